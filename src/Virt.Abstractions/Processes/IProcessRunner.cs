namespace Virt.Processes;

/// <summary>
/// The seam through which the SDK runs external programs (qemu-img, lxc-start, btrfs...). Replace it
/// in tests with a fake that answers like the real tool.
/// </summary>
public interface IProcessRunner
{
    /// <summary>Runs a program to completion and captures its output.</summary>
    /// <param name="spec">The program, its arguments and its deadline.</param>
    /// <param name="cancellationToken">Cancels the run; the program is killed.</param>
    /// <returns>The exit code and output. A non-zero exit code is returned, not thrown: call <see cref="ProcessResult.EnsureSuccess"/>.</returns>
    /// <exception cref="ProcessTimeoutException">The program ran past <see cref="ProcessSpec.Timeout"/> and was killed.</exception>
    /// <exception cref="VirtException">The program could not be started.</exception>
    Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a program and hands its standard input, output and error to the caller as streams (the
    /// streaming form of <see cref="RunAsync"/>). The caller owns the result: dispose it to kill the program
    /// with its children if it still runs.
    /// </summary>
    /// <param name="spec">The program and its arguments; <see cref="ProcessSpec.Timeout"/> and <see cref="ProcessSpec.StandardInput"/> do not apply.</param>
    /// <returns>The running program.</returns>
    /// <exception cref="VirtException">The program could not be started (its <see cref="Exception.InnerException"/> says why).</exception>
    IRunningProcess Start(ProcessSpec spec);
}
