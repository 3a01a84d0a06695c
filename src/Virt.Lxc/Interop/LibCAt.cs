using System.Runtime.InteropServices;

namespace Virt.Lxc.Interop;

/// <summary>
/// The descriptor-relative (<c>*at</c>) libc calls that unpacking an untrusted tree needs: every name is
/// one component under a directory descriptor, so no symlink planted in the tree is ever followed by a
/// path lookup. Kept apart from <see cref="LibC"/> (shared with the command socket and file access code).
/// </summary>
internal static partial class LibCAt
{
    public const int ENoent = 2;
    public const int EExist = 17;
    public const int ENotdir = 20;
    public const int EIsdir = 21;
    public const int ELoop = 40;
    public const int EXdev = 18;
    public const int ATRemoveDir = 0x200;
    public const int ATSymlinkNofollow = 0x100;
    public const int OExcl = 0x80;
    public const ulong ResolveNoXdev = 0x01;
    public const ulong ResolveNoSymlinks = 0x04;
    public const ulong ResolveBeneath = 0x08;

    /// <summary>What every lookup in an untrusted tree uses: stay beneath the directory, follow no link of any kind.</summary>
    public const ulong ResolveConfined = ResolveBeneath | ResolveNoSymlinks | LibC.ResolveNoMagicLinks;

    public const int SIfifo = 0x1000;
    public const int SIflnk = 0xA000;
    private const uint StatxMode = 0x0002 | 0x0001;
    private const uint StatxSize = 0x0200;

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkdirAt(int directoryFd, string name, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UnlinkAt(int directoryFd, string name, int flags);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static partial int UnlinkAtRaw(int directoryFd, byte[] name, int flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SyscallOpenat2(long number, int directoryFd, byte[] path, ref LibC.OpenHow how, nuint size);

    /// <summary>unlinkat(2) of a name as the directory holds it (bytes, not necessarily UTF-8).</summary>
    public static int UnlinkAt(int directoryFd, ReadOnlySpan<byte> name, int flags) => UnlinkAtRaw(directoryFd, [.. name, 0], flags);

    /// <summary>openat2(2) of a name as the directory holds it (bytes, not necessarily UTF-8).</summary>
    public static int OpenAt2(int directoryFd, ReadOnlySpan<byte> name, ref LibC.OpenHow how) =>
        (int)SyscallOpenat2(437, directoryFd, [.. name, 0], ref how, (nuint)Marshal.SizeOf<LibC.OpenHow>());

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SymlinkAt(string target, int directoryFd, string name);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LinkAt(int existingDirectoryFd, string existingName, int newDirectoryFd, string newName, int flags);

    [LibraryImport("libc", EntryPoint = "mkfifoat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkfifoAt(int directoryFd, string name, uint mode);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FchownAt(int directoryFd, string name, int owner, int group, int flags);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    private static partial IntPtr FdOpenDir(int fd);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial IntPtr ReadDir(IntPtr directory);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    private static partial int CloseDir(IntPtr directory);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, [Out] byte[] buffer);

    /// <summary>The type bits (S_IFMT) and size of <paramref name="name"/> under a directory, its last component not followed; null when it does not exist.</summary>
    public static (int Type, long Size)? StatAt(int directoryFd, string name)
    {
        var buffer = new byte[256];
        if (Statx(directoryFd, name, ATSymlinkNofollow, StatxMode | StatxSize, buffer) != 0)
        {
            return Marshal.GetLastPInvokeError() == ENoent ? null : throw new IOException(LibC.LastError());
        }

        // struct statx: stx_mode u16 at 28, stx_size u64 at 40.
        return (BitConverter.ToUInt16(buffer, 28) & LibC.SIfmt, (long)BitConverter.ToUInt64(buffer, 40));
    }

    /// <summary>The type bits (S_IFMT) and size of an open descriptor, or null with errno set.</summary>
    public static (int Type, long Size)? StatFd(int fd)
    {
        var buffer = new byte[256];
        if (Statx(fd, string.Empty, LibC.AtEmptyPath, StatxMode | StatxSize, buffer) != 0)
        {
            return null;
        }

        return (BitConverter.ToUInt16(buffer, 28) & LibC.SIfmt, (long)BitConverter.ToUInt64(buffer, 40));
    }

    /// <summary>
    /// The names in an open directory (without <c>.</c> and <c>..</c>), read through a duplicate of its
    /// descriptor: the listing is of that very directory, whatever its path now leads to.
    /// </summary>
    public static List<byte[]> ListNames(int directoryFd)
    {
        var duplicate = Dup(directoryFd);
        if (duplicate < 0)
        {
            throw new IOException($"cannot duplicate a directory descriptor: {LibC.LastError()}");
        }

        var stream = FdOpenDir(duplicate);
        if (stream == IntPtr.Zero)
        {
            var error = LibC.LastError();
            LibC.Close(duplicate);
            throw new IOException($"cannot list a directory: {error}");
        }

        var names = new List<byte[]>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var entry = ReadDir(stream);
                if (entry == IntPtr.Zero)
                {
                    if (Marshal.GetLastPInvokeError() != 0)
                    {
                        throw new IOException($"cannot list a directory: {LibC.LastError()}");
                    }

                    return names;
                }

                // struct dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name at 19.
                var name = entry + 19;
                var length = 0;
                while (Marshal.ReadByte(name, length) != 0)
                {
                    length++;
                }

                var bytes = new byte[length];
                Marshal.Copy(name, bytes, 0, length);
                if (bytes is not ([(byte)'.'] or [(byte)'.', (byte)'.']))
                {
                    names.Add(bytes);
                }
            }
        }
        finally
        {
            CloseDir(stream);
        }
    }
}
