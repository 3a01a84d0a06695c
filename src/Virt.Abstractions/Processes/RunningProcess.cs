using System.Diagnostics;

namespace Virt.Processes;

/// <summary><see cref="ProcessRunner"/>'s <see cref="IRunningProcess"/>: a thin wrapper over <see cref="Process"/> that kills the whole tree on cancellation and disposal.</summary>
internal sealed class RunningProcess(ProcessSpec spec, Process process) : IRunningProcess
{
    public ProcessSpec Spec { get; } = spec;

    public int Id { get; } = process.Id;

    public Stream StandardInput => process.StandardInput.BaseStream;

    public Stream StandardOutput => process.StandardOutput.BaseStream;

    public Stream StandardError => process.StandardError.BaseStream;

    public bool HasExited => process.HasExited;

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await KillAsync().ConfigureAwait(false);
            throw;
        }

        return process.ExitCode;
    }

    public async Task KillAsync()
    {
        if (!process.HasExited)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited on its own in the meantime.
            }
        }

        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        process.Dispose();
    }
}
