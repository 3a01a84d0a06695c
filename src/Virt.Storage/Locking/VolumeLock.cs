using System.Globalization;
using System.IO.Abstractions;
using Virt.IO;

namespace Virt.Storage.Locking;

/// <summary>
/// An exclusive lock on a volume (or a pool) that holds across processes: an advisory <c>flock</c> on a
/// lock file (what .NET takes for <see cref="FileShare.None"/> on Linux), released by the kernel when the
/// holder dies. The holder writes who it is into a side file, so a waiter that gives up at its deadline
/// can say who holds the lock.
/// </summary>
/// <remarks>
/// <para>
/// The lock file is opened through the pool's <see cref="IFileSystem"/>: on the host's file system that
/// stream is a real <see cref="FileStream"/>, so the <c>flock</c> is the kernel's and holds across processes.
/// An in-memory file system (a unit test's) gives no such lock: what it locks against is its own business.
/// </para>
/// <para>
/// The side file is a note, not the lock: when it cannot be written (a full or read-only file system)
/// the lock is still held and the operation goes on — a delete that frees space must work on a full
/// disk — and when acquiring fails or is cancelled after the <c>flock</c> was taken, the lock is released
/// before the exception leaves, so it never outlives its caller.
/// </para>
/// </remarks>
internal sealed class VolumeLock : IDisposable
{
    // What .NET puts in IOException.HResult when flock(LOCK_EX | LOCK_NB) finds the file locked: EWOULDBLOCK.
    private const int WouldBlock = 11;

    private readonly IFileSystem _files;
    private readonly FileSystemStream _lock;
    private readonly string? _holderFile;

    private VolumeLock(IFileSystem files, FileSystemStream stream, string? holderFile)
    {
        _files = files;
        _lock = stream;
        _holderFile = holderFile;
    }

    public static async Task<VolumeLock> AcquireAsync(IFileSystem files, string directory, string name, string operation, TimeSpan timeout, Func<string, Exception> onTimeout, CancellationToken cancellationToken)
    {
        OwnerOnly.CreateDirectory(files, directory);
        var path = Path.Combine(directory, name + ".lock");
        var holder = Path.Combine(directory, name + ".holder");
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            FileSystemStream stream;
            try
            {
                stream = OwnerOnly.Open(files, path, FileMode.OpenOrCreate, FileAccess.ReadWrite);
            }
            catch (IOException busy) when (busy.HResult == WouldBlock && DateTime.UtcNow < deadline)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
                continue;
            }
            catch (IOException busy) when (busy.HResult == WouldBlock)
            {
                var who = files.File.Exists(holder) ? await files.File.ReadAllTextAsync(holder, cancellationToken).ConfigureAwait(false) : "an unknown holder";
                throw onTimeout($"it is locked by {who} (waited {timeout.TotalSeconds:0.#} s); try again when that finishes");
            }

            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                StateFile.Write(files, holder, System.Text.Encoding.UTF8.GetBytes($"pid {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}: {operation} since {DateTime.UtcNow:O}"), OwnerOnly.FileMode);
                return new VolumeLock(files, stream, holder);
            }
            catch (Exception note) when (note is IOException or UnauthorizedAccessException)
            {
                // The note is for a waiter's message only; the flock is the lock, and it is held.
                return new VolumeLock(files, stream, null);
            }
            catch
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (_holderFile is not null)
            {
                _files.File.Delete(_holderFile);
            }
        }
        finally
        {
            _lock.Dispose();
        }
    }
}
