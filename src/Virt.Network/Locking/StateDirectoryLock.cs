using System.Globalization;
using System.IO.Abstractions;
using Virt.IO;

namespace Virt.Network.Locking;

/// <summary>
/// The one lock over a network state directory, held by every change (define, apply, delete, a port's prepare or
/// release) so that two processes never plan from the same host state and apply over each other. It is an advisory
/// <c>flock</c> (what .NET takes for <see cref="FileShare.None"/> on Linux, the pattern Virt.Storage's volume locks
/// use), released by the kernel when the holder dies; the holder notes who it is beside it, so that a waiter that
/// gives up can name it.
/// </summary>
internal sealed class StateDirectoryLock : IDisposable
{
    // IOException.HResult for flock(LOCK_EX | LOCK_NB) on a file another open file description holds: EWOULDBLOCK.
    private const int WouldBlock = 11;

    private readonly IFileSystem _files;
    private readonly FileSystemStream _stream;
    private readonly string _holderNote;

    private StateDirectoryLock(IFileSystem files, FileSystemStream stream, string holderNote)
    {
        _files = files;
        _stream = stream;
        _holderNote = holderNote;
    }

    public static async Task<StateDirectoryLock> AcquireAsync(IFileSystem files, string directory, string operation, TimeSpan timeout, CancellationToken cancellationToken)
    {
        OwnerOnly.CreateDirectory(files, directory);
        var lockFile = Path.Combine(directory, "network.lock");
        var holderNote = Path.Combine(directory, "network.holder");
        var deadline = DateTime.UtcNow + timeout;
        var pause = TimeSpan.FromMilliseconds(2);
        while (true)
        {
            try
            {
                var stream = OwnerOnly.Open(files, lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite);
                TryNote(files, holderNote, operation);
                return new StateDirectoryLock(files, stream, holderNote);
            }
            catch (IOException busy) when (busy.HResult == WouldBlock)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    var holder = files.File.Exists(holderNote) ? await files.File.ReadAllTextAsync(holderNote, cancellationToken).ConfigureAwait(false) : "an unknown holder";
                    throw new TimeoutException($"network state directory '{directory}' could not be locked for {operation}: it is held by {holder} (waited {timeout.TotalSeconds:0.#} s); try again when that finishes, or raise NetworkOptions.LockTimeout");
                }

                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 50));
            }
        }
    }

    public void Dispose()
    {
        try
        {
            _files.File.Delete(_holderNote);
        }
        catch (IOException)
        {
            // The note only explains a wait; the flock released below is the lock.
        }
        finally
        {
            _stream.Dispose();
        }
    }

    private static void TryNote(IFileSystem files, string holderNote, string operation)
    {
        try
        {
            var note = string.Create(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId}: {operation} since {DateTime.UtcNow:O}");
            StateFile.Write(files, holderNote, System.Text.Encoding.UTF8.GetBytes(note), OwnerOnly.FileMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full or read-only disk must not stop a change that may free it; only a waiter's message loses a name.
        }
    }
}
