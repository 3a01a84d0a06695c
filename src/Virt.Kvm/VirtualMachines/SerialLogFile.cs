using System.IO.Abstractions;
using System.Runtime.InteropServices;
using Virt.IO;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Keeps a VM's serial log (which the guest writes to, through QEMU, without limit) within a cap.
/// At start a log above the cap is rotated to <c>serial.log.1</c>. While QEMU runs, the log is
/// checked every second and, above the cap, its older part is moved to <c>serial.log.1</c> and cut
/// from the file QEMU keeps open: with <c>FALLOC_FL_COLLAPSE_RANGE</c> where the file system has it
/// (ext4, XFS), so the newest half stays in place; elsewhere by truncating to zero after the copy.
/// QEMU opens the log with O_APPEND (<c>logappend=on</c>), so its next write lands at the new end
/// either way. Disk use is bounded by about twice the cap plus what a guest writes in a second.
/// Preparing goes through the injected file system; trimming works on the real file QEMU keeps open
/// (fallocate needs its real descriptor), so it uses the host's file system directly.
/// </summary>
internal static partial class SerialLogFile
{
    private const int CollapseRange = 0x08;
    private const int Block = 4096;

    /// <summary>Before QEMU starts: rotates a log above the cap, and creates the log 0600 so QEMU appends to a private file.</summary>
    public static void PrepareForStart(IFileSystem fileSystem, string path, long cap)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        if (cap > 0 && fileSystem.File.Exists(path) && fileSystem.FileInfo.New(path).Length > cap)
        {
            fileSystem.File.Move(path, path + ".1", overwrite: true);
        }

        EnsureExists(fileSystem, path);
    }

    /// <summary>Creates the file empty and 0600 unless it exists (QEMU then appends to it and keeps the mode).</summary>
    public static void EnsureExists(IFileSystem fileSystem, string path)
    {
        using var stream = OwnerOnly.Open(fileSystem, path, FileMode.OpenOrCreate, FileAccess.Write);
    }

    /// <summary>Trims the log to at most half the cap when it is above the cap; returns whether it trimmed.</summary>
    public static bool Trim(string path, long cap)
    {
        if (cap <= 0)
        {
            return false;
        }

        FileStream log;
        try
        {
            log = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        }
        catch (FileNotFoundException)
        {
            return false;
        }

        using (log)
        {
            var length = log.Length;
            if (length <= cap)
            {
                return false;
            }

            // Keep the newest half of the cap; cut whole blocks from the start (what collapse needs).
            var cut = (length - (cap / 2)) / Block * Block;
            if (cut > 0)
            {
                SaveOlderPart(log, path + ".1", cut);
                if (Fallocate((int)log.SafeFileHandle.DangerousGetHandle(), CollapseRange, 0, cut) == 0)
                {
                    return true;
                }
            }

            // No collapse here (tmpfs, btrfs, NFS...): keep everything so far in .1 and start again
            // from zero. What QEMU appends between the copy and the truncation is lost.
            SaveOlderPart(log, path + ".1", log.Length);
            log.SetLength(0);
            return true;
        }
    }

    /// <summary>Writes the first <paramref name="count"/> bytes of the log to <paramref name="rotated"/> (0600, replaced atomically).</summary>
    private static void SaveOlderPart(FileStream log, string rotated, long count)
    {
        var temporary = rotated + ".tmp";
        File.Delete(temporary);
        using (var target = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly.FileMode }))
        {
            log.Seek(0, SeekOrigin.Begin);
            var buffer = new byte[81920];
            var left = count;
            while (left > 0)
            {
                var read = log.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (read == 0)
                {
                    break;
                }

                target.Write(buffer, 0, read);
                left -= read;
            }
        }

        File.Move(temporary, rotated, overwrite: true);
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);
}
