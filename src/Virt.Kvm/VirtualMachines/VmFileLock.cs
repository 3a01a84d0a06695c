using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Virt.Kvm.Interop;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// An exclusive <c>flock</c> on a file in a VM's directory: it serialises the processes that manage
/// the VM (the panel, virtctl, a user's tool, two managers in one process). The kernel drops it when
/// the holder closes it or dies, so a crashed process never leaves a VM locked. The file is never
/// replaced or deleted while the VM exists (a new inode would be a second lock); its content only
/// says who holds it, for error messages.
/// </summary>
internal sealed class VmFileLock : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);
    private readonly SafeFileHandle _handle;

    private VmFileLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Takes the lock if no other holder has it; null when one does.</summary>
    /// <param name="path">The lock file, created (0600) when missing.</param>
    /// <param name="holder">What this holder does, written into the file for whoever waits.</param>
    public static VmFileLock? TryAcquire(string path, string holder)
    {
        var descriptor = LibC.Open(path, LibC.ORdwr | LibC.OCreat | LibC.OCloexec, Convert.ToInt32("600", 8));
        if (descriptor < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == LibC.Enoent
                ? new DirectoryNotFoundException($"cannot open the lock file '{path}': the VM's directory is gone (another process deleted the VM, or migrated it to another host)")
                : new IOException($"cannot open the lock file '{path}': errno {errno}; check the state directory's owner and permissions");
        }

        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        if (LibC.Flock(handle, LibC.LockExclusive | LibC.LockNonBlocking) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            return errno == LibC.Ewouldblock ? null : throw new IOException($"cannot lock '{path}': errno {errno}");
        }

        var text = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId} {holder}\n"));
        RandomAccess.SetLength(handle, 0);
        RandomAccess.Write(handle, text, 0);
        return new VmFileLock(handle);
    }

    /// <summary>Waits for the lock up to <paramref name="timeout"/>; null when it stayed held.</summary>
    public static async Task<VmFileLock?> AcquireAsync(string path, string holder, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            if (TryAcquire(path, holder) is { } acquired)
            {
                return acquired;
            }

            if (time.GetElapsedTime(started) >= timeout)
            {
                return null;
            }

            await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Who holds (or last held) the lock: "pid what", or an empty string.</summary>
    public static string DescribeHolder(string path)
    {
        // Not File.ReadAllText: .NET takes a shared flock on files it opens for reading, which fails
        // while the holder has its exclusive one.
        var descriptor = LibC.Open(path, LibC.ORdonly | LibC.OCloexec, 0);
        if (descriptor < 0)
        {
            return string.Empty;
        }

        using var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        var buffer = new byte[256];
        var length = RandomAccess.Read(handle, buffer, 0);
        return Encoding.UTF8.GetString(buffer, 0, length).Trim();
    }

    /// <summary>The pid written by the holder, or null.</summary>
    public static int? HolderPid(string path) =>
        int.TryParse(DescribeHolder(path).Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;

    /// <summary>Releases the lock (closing the descriptor is what releases a flock).</summary>
    public void Dispose() => _handle.Dispose();
}
