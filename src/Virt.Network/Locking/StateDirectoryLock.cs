using System.Globalization;
using System.IO.Abstractions;
using Virt.IO;

namespace Virt.Network.Locking;

/// <summary>
/// The one lock over a network state directory, held by every change (define, apply, delete, a port's prepare or
/// release) so that two processes never plan from the same host state and apply over each other. It is an advisory
/// <c>flock</c> (what .NET takes for <see cref="FileShare.None"/> on Linux, the pattern Virt.Storage's volume locks
/// use), released by the kernel when the holder dies; the holder notes who it is beside it, so that a waiter that
/// gives up can name it. A holder killed before it removed its note leaves the note behind, so a waiter checks that the
/// noted pid is alive before naming it.
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
                    var holder = await DescribeHolderAsync(files, holderNote, cancellationToken).ConfigureAwait(false);
                    throw new TimeoutException($"network state directory '{directory}' could not be locked for {operation}: {holder} (waited {timeout.TotalSeconds:0.#} s); try again when that finishes, or raise NetworkOptions.LockTimeout");
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

    /// <summary>
    /// Who holds the lock, for a waiter's message: the note's words while its pid is alive. A note whose pid is gone was
    /// left by a holder that was killed; the flock died with it, so a live process that wrote no note holds it now.
    /// </summary>
    private static async Task<string> DescribeHolderAsync(IFileSystem files, string holderNote, CancellationToken cancellationToken)
    {
        string note;
        try
        {
            note = await files.File.ReadAllTextAsync(holderNote, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "it is held by a process that left no note (lslocks names it)";
        }

        return NotedPid(note) is { } pid && !files.Directory.Exists(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}"))
            ? $"its note '{holderNote}' says \"{note}\", but pid {pid} is not alive: that holder was killed before it removed its note, and its flock was released by the kernel when it died, so another process that left no note holds the lock now (lslocks names it)"
            : $"it is held by {note}";
    }

    /// <summary>The pid a note starts with (<c>pid N: ...</c>), or <see langword="null"/> for a note in another form.</summary>
    private static int? NotedPid(string note)
    {
        const string Prefix = "pid ";
        var colon = note.IndexOf(':', StringComparison.Ordinal);
        return note.StartsWith(Prefix, StringComparison.Ordinal) && colon > Prefix.Length
            && int.TryParse(note.AsSpan(Prefix.Length, colon - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;
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
