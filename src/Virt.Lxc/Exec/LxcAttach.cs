using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using System.Text;
using Virt.Containers;
using Virt.IO;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.Exec;

/// <summary>
/// Runs a command in a container through <c>lxc-attach</c> as a child process (liblxc's attach forks the
/// caller, which a multi-threaded CLR must not do). <c>lxc-attach</c> exits 1 both when the command does
/// and when it cannot enter the container, so each call gets its own LXC log (<c>-l ERROR -o</c>): a
/// command's own failure leaves it empty, a failed attach or exec writes its reason there.
/// </summary>
internal static class LxcAttach
{
    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private const int FirstSignalCode = 129;
    private const int LastSignalCode = 128 + 64;
    private const int MaxLogBytes = 64 * 1024;

    public static async Task<ContainerExecResult> RunAsync(IFileSystem fileSystem, IProcessRunner processes, LxcOptions options, string containerName, string logDirectory, ContainerExecRequest request, CancellationToken cancellationToken)
    {
        fileSystem.Directory.CreateDirectory(logDirectory);
        var log = Path.Combine(logDirectory, $"attach-{Environment.ProcessId}-{Guid.NewGuid():N}.log");
        var started = Stopwatch.GetTimestamp();
        IRunningProcess process;
        try
        {
            process = processes.Start(new ProcessSpec(options.Tool("lxc-attach"), Arguments(options, containerName, log, request)));
        }
        catch (VirtException ex) when (ex.InnerException is System.ComponentModel.Win32Exception start)
        {
            throw new ContainerException(VirtErrorKind.Failed, $"cannot run lxc-attach for container '{containerName}': {start.Message}; install Debian's lxc", start);
        }

        try
        {
            await using (process.ConfigureAwait(false))
            {
                return await WaitAsync(fileSystem, process, containerName, log, request, started, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            fileSystem.File.Delete(log);
        }
    }

    private static async Task<ContainerExecResult> WaitAsync(IFileSystem fileSystem, IRunningProcess process, string containerName, string log, ContainerExecRequest request, long started, CancellationToken cancellationToken)
    {
        var collectedOutput = request.StandardOutput is null ? new CappedBuffer(request.MaxCollectedOutputBytes) : null;
        var collectedError = request.StandardError is null && !request.CombineOutput ? new CappedBuffer(request.MaxCollectedOutputBytes) : null;
        var output = request.StandardOutput ?? collectedOutput!;
        var error = request.CombineOutput ? output : request.StandardError ?? collectedError!;
        var writeLock = request.CombineOutput ? new SemaphoreSlim(1, 1) : null;
        var copyOut = PumpAsync(process.StandardOutput, output, writeLock);
        var copyErr = PumpAsync(process.StandardError, error, writeLock);
        var feedIn = FeedAsync(process.StandardInput, request.StandardInput);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(request.Timeout);
        int exitCode;
        try
        {
            // Cancelling the wait kills lxc-attach's tree; lxc-attach waits for the attached process, which is its
            // child, so the command in the container ends too.
            exitCode = await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            await Task.WhenAll(copyOut, copyErr).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new ContainerExecTimeoutException(containerName, string.Join(' ', request.Command), request.Timeout);
        }

        await feedIn.ConfigureAwait(false);
        // Its ERROR lines are few; a runaway log is not read whole.
        var lxcErrors = (await LogTail.ReadTextAsync(fileSystem, log, MaxLogBytes, CancellationToken.None).ConfigureAwait(false)).Trim();
        var standardOutput = collectedOutput?.Text() ?? string.Empty;
        var standardError = collectedError?.Text() ?? string.Empty;
        var duration = Stopwatch.GetElapsedTime(started);
        var truncated = new ContainerExecResult(ContainerExecOutcome.Exited, 0, null, string.Empty, string.Empty, TimeSpan.Zero)
        {
            StandardOutputTruncated = collectedOutput?.Truncated ?? false,
            StandardErrorTruncated = collectedError?.Truncated ?? false,
        };
        if (lxcErrors.Length > 0)
        {
            if (lxcErrors.Contains("Failed to exec", StringComparison.Ordinal))
            {
                return truncated with { Outcome = ContainerExecOutcome.CommandNotFound, ExitCode = exitCode, StandardOutput = standardOutput, StandardError = standardError, Duration = duration };
            }

            if (lxcErrors.Contains("Failed to get init pid", StringComparison.Ordinal))
            {
                throw new ContainerAttachException(containerName, $"it is not running (lxc-attach: {LastErrorLine(lxcErrors)}): start it first");
            }

            throw new ContainerAttachException(containerName, $"lxc-attach exited {exitCode.ToString(CultureInfo.InvariantCulture)} and logged: {LastErrorLine(lxcErrors)}; check that the container runs");
        }

        if (exitCode is >= FirstSignalCode and <= LastSignalCode)
        {
            return truncated with { Outcome = ContainerExecOutcome.Signaled, ExitCode = exitCode, Signal = exitCode - 128, StandardOutput = standardOutput, StandardError = standardError, Duration = duration };
        }

        return truncated with { ExitCode = exitCode, StandardOutput = standardOutput, StandardError = standardError, Duration = duration };
    }

    private static List<string> Arguments(LxcOptions options, string containerName, string log, ContainerExecRequest request)
    {
        var arguments = new List<string> { "-n", containerName, "-P", options.LxcPath, "-l", "ERROR", "-o", log, "--clear-env" };
        if (!request.Environment.ContainsKey("PATH"))
        {
            arguments.AddRange(["-v", "PATH=" + DefaultPath]);
        }

        foreach (var (name, value) in request.Environment)
        {
            arguments.AddRange(["-v", name + "=" + value]);
        }

        if (request.User is { } user)
        {
            arguments.AddRange(["-u", user.ToString(CultureInfo.InvariantCulture)]);
        }

        if (request.Group is { } group)
        {
            arguments.AddRange(["-g", group.ToString(CultureInfo.InvariantCulture)]);
        }

        arguments.Add("--");
        if (request.WorkingDirectory is not null)
        {
            // lxc-attach has no working-directory option: a shell changes into it, then becomes the command.
            arguments.AddRange(["/bin/sh", "-c", "cd -- \"$1\" || exit 126; shift; exec \"$@\"", "virt-exec", request.WorkingDirectory]);
        }

        arguments.AddRange(request.Command);
        return arguments;
    }

    private static async Task PumpAsync(Stream source, Stream destination, SemaphoreSlim? writeLock)
    {
        var buffer = new byte[16384];
        int read;
        while ((read = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (writeLock is not null)
            {
                await writeLock.WaitAsync().ConfigureAwait(false);
            }

            try
            {
                await destination.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
            }
            finally
            {
                writeLock?.Release();
            }
        }
    }

    private static async Task FeedAsync(Stream stdin, Stream? input)
    {
        try
        {
            if (input is not null)
            {
                await input.CopyToAsync(stdin).ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // The command exited without reading everything (a broken pipe): its exit code tells the story.
        }
        finally
        {
            try
            {
                await stdin.DisposeAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                // Same: the pipe is already gone.
            }
        }
    }

    private static string LastErrorLine(string log) =>
        Containers.LxcLog.Message(log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0]);

    /// <summary>
    /// Collects a stream up to a limit and counts what it drops: writes beyond the limit succeed (the
    /// pump keeps draining the pipe, so the command never blocks) but are discarded.
    /// </summary>
    private sealed class CappedBuffer(int limit) : Stream
    {
        private readonly MemoryStream _kept = new();

        public bool Truncated { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _kept.Length;

        public override long Position
        {
            get => _kept.Length;
            set => throw new NotSupportedException();
        }

        public string Text() => Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var room = (int)Math.Min(buffer.Length, limit - _kept.Length);
            if (room > 0)
            {
                _kept.Write(buffer[..room]);
            }

            if (room < buffer.Length)
            {
                Truncated = true;
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _kept.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
