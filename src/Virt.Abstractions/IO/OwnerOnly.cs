using System.IO.Abstractions;

namespace Virt.IO;

/// <summary>
/// The modes of what only the SDK's user (root on a host) may open: state files name devices, pids and
/// environment values, volumes hold whole disks. Give them at creation (<see cref="FileStreamOptions.UnixCreateMode"/>,
/// <c>Directory.CreateDirectory(path, mode)</c>): a chmod afterwards leaves a moment when another user can open the file and keep the handle.
/// </summary>
public static class OwnerOnly
{
    /// <summary>0600: read and write for the owner only.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0700: a directory only the owner may list or enter.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Creates a directory 0700, and each missing parent 0700 too (.NET gives the mode to the last one only).
    /// One that already exists with more than 0700 (made by an older version) is narrowed to 0700.
    /// </summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="path">The directory.</param>
    /// <returns><paramref name="path"/>, for chaining.</returns>
    public static string CreateDirectory(IFileSystem fileSystem, string path)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        if (fileSystem.Directory.Exists(path))
        {
            if ((fileSystem.File.GetUnixFileMode(path) & ~DirectoryMode) != 0)
            {
                fileSystem.File.SetUnixFileMode(path, DirectoryMode);
            }

            return path;
        }

        CreateMissing(fileSystem, path);
        return path;
    }

    /// <summary>Opens a file, creating it 0600 where it does not exist (with <see cref="System.IO.FileMode.CreateNew"/>, one that exists fails instead of keeping its own mode).</summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="path">The file.</param>
    /// <param name="mode">How to open it.</param>
    /// <param name="access">Read, write or both.</param>
    /// <param name="share">What others may do with it while it is open.</param>
    /// <returns>The open stream.</returns>
    public static FileSystemStream Open(IFileSystem fileSystem, string path, System.IO.FileMode mode, FileAccess access, FileShare share = FileShare.None)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        return fileSystem.FileStream.New(path, new FileStreamOptions { Mode = mode, Access = access, Share = share, UnixCreateMode = mode == System.IO.FileMode.Open ? null : FileMode });
    }

    private static void CreateMissing(IFileSystem fileSystem, string path)
    {
        if (fileSystem.Directory.Exists(path))
        {
            return;
        }

        if (fileSystem.Path.GetDirectoryName(fileSystem.Path.TrimEndingDirectorySeparator(path)) is { Length: > 0 } parent)
        {
            CreateMissing(fileSystem, parent);
        }

        fileSystem.Directory.CreateDirectory(path, DirectoryMode);
    }
}
