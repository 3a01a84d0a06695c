using System.IO.Abstractions;
using Virt.IO;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Files of a VM that hold what other local users must not read (cloud-init seeds, UEFI variables,
/// logs, pids): created 0600 from the start — never created with the umask's mode and chmod-ed after.
/// </summary>
internal static class PrivateFile
{
    public const UnixFileMode OwnerReadWrite = OwnerOnly.FileMode;

    public const UnixFileMode OwnerOnlyDirectory = OwnerOnly.DirectoryMode;

    private static readonly IFileSystem Host = new FileSystem();

    /// <summary>Writes the file anew (an older file of that name is removed first, so its mode does not carry over).</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content)
    {
        File.Delete(path);
        using var stream = CreateNew(path);
        stream.Write(content);
    }

    /// <summary>Copies a file into a new 0600 file.</summary>
    public static void Copy(string from, string to)
    {
        using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var target = CreateNew(to);
        source.CopyTo(target);
    }

    /// <summary>Creates a file 0600 that must not exist yet (an existing file would keep its own mode).</summary>
    public static FileStream CreateNew(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerReadWrite });

    /// <summary>Creates the file empty and 0600 unless it exists (QEMU then appends to it and keeps the mode).</summary>
    public static void EnsureExists(string path)
    {
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = OwnerReadWrite });
    }

    /// <summary>Creates a 0700 directory (and missing parents); one that already existed with a wider mode is narrowed to 0700.</summary>
    public static void CreateDirectory(string path) => OwnerOnly.CreateDirectory(Host, path);
}
