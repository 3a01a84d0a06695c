using System.Formats.Tar;
using Virt.Lxc.Interop;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Unpacks a tar stream into a container root without trusting it: absolute names and <c>..</c> are
/// refused, nothing is ever written through a symlink (every parent directory is checked to be a real
/// directory), symlinks whose relative target climbs above the root and hard links to outside the root
/// are refused, and device nodes are refused (LXC's autodev provides <c>/dev</c>; nodes under <c>dev/</c>
/// are skipped). Ownership is kept, shifted by <paramref name="idShift"/> for unprivileged containers.
/// With <paramref name="whiteouts"/> it applies OCI layer whiteouts (<c>.wh.name</c>, <c>.wh..wh..opq</c>).
/// </summary>
internal sealed class SafeTarExtractor(string root, int idShift, int idLimit, bool whiteouts)
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";
    private readonly HashSet<string> _realDirectories = new(StringComparer.Ordinal) { string.Empty };
    private readonly HashSet<string> _writtenThisLayer = new(StringComparer.Ordinal);
    private readonly List<string> _opaqueDirectories = [];

    /// <summary>Entries skipped (device nodes under dev/), for the log.</summary>
    public List<string> Skipped { get; } = [];

    public async Task ExtractAsync(Stream tar, CancellationToken cancellationToken)
    {
        _writtenThisLayer.Clear();
        _opaqueDirectories.Clear();
        using var reader = new TarReader(tar, leaveOpen: true);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            await ExtractEntryAsync(entry, cancellationToken).ConfigureAwait(false);
        }

        // An opaque directory hides what lower layers put there, but not what this layer added.
        foreach (var directory in _opaqueDirectories)
        {
            ClearExceptWrittenThisLayer(directory);
        }
    }

    private async Task ExtractEntryAsync(TarEntry entry, CancellationToken cancellationToken)
    {
        var relative = Normalize(entry.Name);
        if (relative.Length == 0)
        {
            return;
        }

        var name = Path.GetFileName(relative);
        var parent = Path.GetDirectoryName(relative) ?? string.Empty;
        if (whiteouts && name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            EnsureDirectory(parent);
            if (name == OpaqueWhiteout)
            {
                _opaqueDirectories.Add(parent);
            }
            else
            {
                RemoveAny(Path.Combine(root, parent, name[WhiteoutPrefix.Length..]));
            }

            return;
        }

        EnsureDirectory(parent);
        var target = Path.Combine(root, relative);
        _writtenThisLayer.Add(relative);
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                if (!_realDirectories.Contains(relative))
                {
                    if (IsLinkOrFile(target))
                    {
                        File.Delete(target);
                    }

                    Directory.CreateDirectory(target);
                    _realDirectories.Add(relative);
                }

                SetOwnerAndMode(target, entry, isLink: false);
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                RemoveAny(target);
                var stream = new FileStream(target, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
                await using (stream.ConfigureAwait(false))
                {
                    if (entry.DataStream is not null)
                    {
                        await entry.DataStream.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
                    }
                }

                SetOwnerAndMode(target, entry, isLink: false);
                break;
            case TarEntryType.SymbolicLink:
                CheckSymlinkTarget(relative, entry.LinkName);
                RemoveAny(target);
                File.CreateSymbolicLink(target, entry.LinkName);
                SetOwnerAndMode(target, entry, isLink: true);
                break;
            case TarEntryType.HardLink:
                var existing = Normalize(entry.LinkName);
                var existingPath = Path.Combine(root, existing);
                EnsureDirectory(Path.GetDirectoryName(existing) ?? string.Empty);
                if (existing.Length == 0 || IsLink(existingPath) || !File.Exists(existingPath))
                {
                    throw new InvalidDataException($"entry '{entry.Name}' is a hard link to '{entry.LinkName}', which is not a regular file unpacked before it");
                }

                RemoveAny(target);
                if (LibC.Link(existingPath, target) != 0)
                {
                    throw new IOException($"cannot create hard link '{entry.Name}' to '{entry.LinkName}': {LibC.LastError()}");
                }

                break;
            case TarEntryType.Fifo:
                RemoveAny(target);
                if (LibC.MkFifo(target, (uint)entry.Mode) != 0)
                {
                    throw new IOException($"cannot create fifo '{entry.Name}': {LibC.LastError()}");
                }

                SetOwnerAndMode(target, entry, isLink: false);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                if (relative.StartsWith("dev/", StringComparison.Ordinal))
                {
                    Skipped.Add(relative);
                    _writtenThisLayer.Remove(relative);
                    break;
                }

                throw new InvalidDataException($"entry '{entry.Name}' is a device node outside dev/: refused, since it would give the container raw access to a host device");
            default:
                // PAX and GNU metadata entries are folded into the entries they describe by TarReader.
                _writtenThisLayer.Remove(relative);
                break;
        }
    }

    private static string Normalize(string name)
    {
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"entry name '{name.Replace("\0", "\\0", StringComparison.Ordinal)}' contains NUL");
        }

        if (name.StartsWith('/'))
        {
            throw new InvalidDataException($"entry '{name}' has an absolute path: refused, since it would be written outside the rootfs");
        }

        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".").ToList();
        if (parts.Contains(".."))
        {
            throw new InvalidDataException($"entry '{name}' contains '..': refused, since it could be written outside the rootfs");
        }

        return string.Join('/', parts);
    }

    private static void CheckSymlinkTarget(string relative, string linkName)
    {
        if (string.IsNullOrEmpty(linkName) || linkName.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"symlink '{relative}' has an empty target or one with NUL");
        }

        if (linkName.StartsWith('/'))
        {
            // Absolute targets are resolved inside the container, where / is the rootfs.
            return;
        }

        var depth = relative.Count(c => c == '/');
        foreach (var part in linkName.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            depth += part switch { ".." => -1, "." => 0, _ => 1 };
            if (depth < 0)
            {
                throw new InvalidDataException($"symlink '{relative}' -> '{linkName}' climbs above the rootfs: refused");
            }
        }
    }

    /// <summary>Makes sure every component of a directory is a real directory (never a symlink), creating what is missing.</summary>
    private void EnsureDirectory(string relative)
    {
        if (_realDirectories.Contains(relative))
        {
            return;
        }

        var current = string.Empty;
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current.Length == 0 ? part : current + "/" + part;
            if (_realDirectories.Contains(current))
            {
                continue;
            }

            var path = Path.Combine(root, current);
            if (IsLink(path))
            {
                throw new InvalidDataException($"an entry would be written through the symlink '{current}': refused, since the link may point outside the rootfs");
            }

            if (File.Exists(path))
            {
                throw new InvalidDataException($"an entry would be written under '{current}', which is a file");
            }

            Directory.CreateDirectory(path);
            _realDirectories.Add(current);
        }
    }

    private void SetOwnerAndMode(string path, TarEntry entry, bool isLink)
    {
        if (entry.Uid >= idLimit || entry.Gid >= idLimit)
        {
            throw new InvalidDataException($"entry '{entry.Name}' is owned by {entry.Uid}:{entry.Gid}, outside the container's {idLimit} ids");
        }

        if (LibC.LChown(path, entry.Uid + idShift, entry.Gid + idShift) != 0)
        {
            throw new IOException($"cannot set the owner of '{entry.Name}': {LibC.LastError()}");
        }

        if (!isLink)
        {
            // After chown, which clears set-id bits.
            File.SetUnixFileMode(path, entry.Mode);
        }
    }

    private void RemoveAny(string path)
    {
        if (IsLinkOrFile(path))
        {
            File.Delete(path);
        }
        else if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
            var relative = Path.GetRelativePath(root, path);
            _realDirectories.RemoveWhere(known => known == relative || known.StartsWith(relative + "/", StringComparison.Ordinal));
        }
    }

    private void ClearExceptWrittenThisLayer(string relativeDirectory)
    {
        var directory = Path.Combine(root, relativeDirectory);
        foreach (var child in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            var relative = relativeDirectory.Length == 0 ? child.Name : relativeDirectory + "/" + child.Name;
            if (_writtenThisLayer.Contains(relative))
            {
                continue;
            }

            if (_writtenThisLayer.Any(written => written.StartsWith(relative + "/", StringComparison.Ordinal)))
            {
                ClearExceptWrittenThisLayer(relative);
                continue;
            }

            RemoveAny(child.FullName);
        }
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static bool IsLinkOrFile(string path) => IsLink(path) || File.Exists(path);
}
