namespace Virt.Processes;

/// <summary>
/// A program started by <see cref="IProcessRunner.Start"/> whose standard streams the caller reads and
/// writes while it runs: the streaming form of <see cref="IProcessRunner.RunAsync"/>, for output too large
/// to collect (a tar stream) or read as it comes (qemu-img's progress).
/// </summary>
/// <remarks>
/// Disposing it kills the program with its children if it still runs, so a caller that stops early
/// (an exception, an abandoned enumeration) leaves nothing behind.
/// </remarks>
public interface IRunningProcess : IAsyncDisposable
{
    /// <summary>What was started.</summary>
    ProcessSpec Spec { get; }

    /// <summary>The program's process id.</summary>
    int Id { get; }

    /// <summary>The program's standard input; dispose it to send end-of-file. <see cref="ProcessSpec.StandardInput"/> is not written to it.</summary>
    Stream StandardInput { get; }

    /// <summary>The program's standard output, read as it writes it. Read it (or let it go) while the program runs: a full pipe blocks the program.</summary>
    Stream StandardOutput { get; }

    /// <summary>The program's standard error, read as it writes it; the same caveat as <see cref="StandardOutput"/>.</summary>
    Stream StandardError { get; }

    /// <summary>Whether the program has exited.</summary>
    bool HasExited { get; }

    /// <summary>Waits for the program to exit. <see cref="ProcessSpec.Timeout"/> does not apply here: the token is the deadline.</summary>
    /// <param name="cancellationToken">Cancels the wait, and kills the program with its children before the cancellation is thrown.</param>
    /// <returns>The exit code.</returns>
    Task<int> WaitForExitAsync(CancellationToken cancellationToken = default);

    /// <summary>Kills the program with its children (its whole process tree) and waits for it to go; nothing happens if it already exited.</summary>
    /// <returns>A task that completes once the program has exited.</returns>
    Task KillAsync();
}
