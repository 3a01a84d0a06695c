using System.IO.Abstractions;
using Virt.IO;

namespace Virt.Storage.Pools;

/// <summary>
/// Files and directories only root may open: volumes hold whole guest disks, and the pool's state says
/// who uses what. Each is created with its mode (0600 files, 0700 directories) — never created open and
/// narrowed afterwards, which leaves a moment when another user can open it and keep the handle.
/// </summary>
internal static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = OwnerOnly.DirectoryMode;

    public const UnixFileMode FileMode = OwnerOnly.FileMode;

    /// <summary>The host's file system, for <see cref="StateFile"/> and <see cref="OwnerOnly"/>.</summary>
    public static readonly IFileSystem Host = new FileSystem();

    /// <summary>
    /// Creates a directory (and its missing parents) 0700. One the SDK owns that already exists open to
    /// others (made before volumes were private) is closed to them, so the older 0644 volumes in it are
    /// out of reach too.
    /// </summary>
    public static string CreateDirectory(string path) => OwnerOnly.CreateDirectory(Host, path);

    /// <summary>Creates a directory and each missing parent 0700 (.NET gives the mode to the last one only).</summary>
    public static void CreateMissing(string path)
    {
        if (!Directory.Exists(path))
        {
            OwnerOnly.CreateDirectory(Host, path);
        }
    }

    /// <summary>Creates an empty file 0600 that must not exist yet, for a tool (qemu-img, rbd) to write into: the tool keeps the mode of a file it finds.</summary>
    public static string CreateFile(string path)
    {
        using var stream = Open(path, System.IO.FileMode.CreateNew, FileAccess.Write);
        return path;
    }

    /// <summary>Opens a file, creating it 0600 where it does not exist.</summary>
    public static FileStream Open(string path, System.IO.FileMode mode, FileAccess access, FileShare share = FileShare.None) =>
        new(path, new FileStreamOptions { Mode = mode, Access = access, Share = share, UnixCreateMode = mode == System.IO.FileMode.Open ? null : FileMode });

    /// <summary>Writes a small text file crash-safely and 0600 (<see cref="StateFile"/>).</summary>
    public static void WriteAllText(string path, string text) => StateFile.Write(Host, path, System.Text.Encoding.UTF8.GetBytes(text), FileMode);
}
