using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Virt.Processes;

/// <summary>The default <see cref="IProcessRunner"/>: starts the program directly (no shell) with <see cref="Process"/>.</summary>
public sealed class ProcessRunner : IProcessRunner
{
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a runner.</summary>
    /// <param name="loggerFactory">Where to log the commands run; optional.</param>
    /// <param name="timeProvider">The clock for durations; optional.</param>
    public ProcessRunner(ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ProcessRunner>();
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var process = StartProcess(spec);
        var started = _timeProvider.GetTimestamp();
        Log.ProcessStarted(_logger, spec.CommandLine, process.Id);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (spec.StandardInput is not null)
        {
            await process.StandardInput.WriteAsync(spec.StandardInput.AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        process.StandardInput.Close();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(spec.Timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new ProcessTimeoutException(spec.CommandLine, spec.Timeout);
        }

        var result = new ProcessResult(
            spec,
            process.ExitCode,
            await stdout.ConfigureAwait(false),
            await stderr.ConfigureAwait(false),
            _timeProvider.GetElapsedTime(started));
        Log.ProcessExited(_logger, spec.CommandLine, result.ExitCode, result.Duration.TotalMilliseconds);
        return result;
    }

    /// <inheritdoc />
    public IRunningProcess Start(ProcessSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var process = StartProcess(spec);
        Log.ProcessStarted(_logger, spec.CommandLine, process.Id);
        return new RunningProcess(spec, process);
    }

    /// <summary>Starts the program with all three standard streams redirected.</summary>
    private static Process StartProcess(ProcessSpec spec)
    {
        var startInfo = new ProcessStartInfo(spec.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory ?? string.Empty,
        };
        foreach (var argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (spec.Environment is not null)
        {
            foreach (var (name, value) in spec.Environment)
            {
                if (value is null)
                {
                    startInfo.Environment.Remove(name);
                }
                else
                {
                    startInfo.Environment[name] = value;
                }
            }
        }

        var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
            return process;
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new VirtException($"cannot start '{spec.CommandLine}': {ex.Message}; check that '{spec.FileName}' is installed and executable", ex);
        }
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // It exited on its own in the meantime.
        }
    }
}
