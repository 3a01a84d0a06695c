using Virt.Containers;

namespace Virt.Testing;

/// <summary>
/// A container's root file system as directories and regular files in memory, with the LXC backend's
/// path rules: an absolute path without NUL or <c>..</c>; a pushed file's directory must exist; only
/// regular files are pushed and pulled. It starts with the directories of the SDK's busybox rootfs.
/// There are no symlinks.
/// </summary>
internal sealed class InMemoryFileTree
{
    private static readonly string[] BusyboxDirectories = ["/bin", "/sbin", "/etc", "/etc/init.d", "/proc", "/sys", "/dev", "/root", "/run", "/var", "/var/log", "/usr", "/usr/bin", "/usr/sbin", "/mnt", "/home", "/tmp"];

    private readonly Lock _gate = new();
    private readonly string _containerName;
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal) { "/" };
    private readonly Dictionary<string, (byte[] Content, UnixFileMode Mode)> _files = new(StringComparer.Ordinal);

    public InMemoryFileTree(string containerName)
    {
        _containerName = containerName;
        _directories.UnionWith(BusyboxDirectories);
        _files["/etc/hosts"] = ("127.0.0.1 localhost\n"u8.ToArray(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>Creates or truncates a regular file; <paramref name="mode"/> applies to a new file only, as with <c>open(O_CREAT)</c>.</summary>
    public void Write(string path, byte[] content, UnixFileMode mode)
    {
        var normal = Normalize(path);
        lock (_gate)
        {
            if (_directories.Contains(normal))
            {
                throw NotRegular(path);
            }

            if (!_directories.Contains(ParentOf(normal)))
            {
                throw new ContainerPathException(_containerName, path, "No such file or directory (its directory does not exist: create it first)");
            }

            _files[normal] = (content, _files.TryGetValue(normal, out var existing) ? existing.Mode : mode);
        }
    }

    public byte[] Read(string path)
    {
        var normal = Normalize(path);
        lock (_gate)
        {
            if (_directories.Contains(normal))
            {
                throw NotRegular(path);
            }

            return _files.TryGetValue(normal, out var file)
                ? file.Content
                : throw new ContainerPathException(_containerName, path, "No such file or directory");
        }
    }

    public void CreateDirectory(string path)
    {
        var normal = Normalize(path);
        lock (_gate)
        {
            for (var directory = normal; directory != "/"; directory = ParentOf(directory))
            {
                if (_files.ContainsKey(directory))
                {
                    throw new ContainerPathException(_containerName, path, $"'{directory}' is a file, not a directory");
                }
            }

            for (var directory = normal; directory != "/"; directory = ParentOf(directory))
            {
                _directories.Add(directory);
            }
        }
    }

    /// <summary>The LXC backend's checks of a requested path, and its canonical form (no empty components).</summary>
    private string Normalize(string path)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ContainerPathException(VirtErrorKind.InvalidInput, _containerName, path ?? "(null)", "give an absolute path inside the container, without NUL");
        }

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".").ToArray();
        if (parts.Contains(".."))
        {
            throw new ContainerPathException(VirtErrorKind.InvalidInput, _containerName, path, "'..' is refused: give the path without it");
        }

        return parts.Length == 0
            ? throw new ContainerPathException(VirtErrorKind.InvalidInput, _containerName, path, "the root directory is not a file")
            : "/" + string.Join('/', parts);
    }

    private static string ParentOf(string normal) => normal[..Math.Max(1, normal.LastIndexOf('/'))];

    private ContainerPathException NotRegular(string path) =>
        new(VirtErrorKind.Refused, _containerName, path, "it is a directory, not a regular file: only regular files are pushed and pulled");
}
