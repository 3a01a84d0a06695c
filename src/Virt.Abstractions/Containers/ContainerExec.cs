namespace Virt.Containers;

/// <summary>A command to run inside a running container.</summary>
/// <param name="Command">The program and its arguments (no shell).</param>
public sealed record ContainerExecRequest(IReadOnlyList<string> Command)
{
    /// <summary>The environment; it replaces the caller's. <c>PATH</c> defaults to the usual system directories.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The working directory inside the container (needs <c>/bin/sh</c> there); <see langword="null"/> for <c>/</c>.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The uid to run as inside the container; <see langword="null"/> for root.</summary>
    public int? User { get; init; }

    /// <summary>The gid to run as inside the container; <see langword="null"/> for root's group.</summary>
    public int? Group { get; init; }

    /// <summary>Copied to the command's standard input, which is then closed; <see langword="null"/> closes it at once.</summary>
    public Stream? StandardInput { get; init; }

    /// <summary>
    /// Receives standard output as it comes, without limit; <see langword="null"/> collects it into
    /// <see cref="ContainerExecResult.StandardOutput"/>, up to <see cref="MaxCollectedOutputBytes"/>.
    /// </summary>
    public Stream? StandardOutput { get; init; }

    /// <summary>
    /// Receives standard error as it comes, without limit; <see langword="null"/> collects it into
    /// <see cref="ContainerExecResult.StandardError"/>, up to <see cref="MaxCollectedOutputBytes"/>.
    /// </summary>
    public Stream? StandardError { get; init; }

    /// <summary>Sends standard error to the same place as standard output.</summary>
    public bool CombineOutput { get; init; }

    /// <summary>How long the command may run before it is killed. Default one minute.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The most bytes collected into the result per stream (output and error each). What comes beyond is
    /// read and discarded, so the command never blocks on a full pipe, and the result's
    /// <see cref="ContainerExecResult.StandardOutputTruncated"/> or <see cref="ContainerExecResult.StandardErrorTruncated"/>
    /// is set. To keep everything, pass <see cref="StandardOutput"/>/<see cref="StandardError"/> streams instead.
    /// Default 16 MiB.
    /// </summary>
    public int MaxCollectedOutputBytes { get; init; } = DefaultMaxCollectedOutputBytes;

    /// <summary>The default of <see cref="MaxCollectedOutputBytes"/>: 16 MiB.</summary>
    public const int DefaultMaxCollectedOutputBytes = 16 * 1024 * 1024;
}

/// <summary>How a command in a container ended.</summary>
public enum ContainerExecOutcome
{
    /// <summary>It exited; see <see cref="ContainerExecResult.ExitCode"/>.</summary>
    Exited,

    /// <summary>A signal ended it; see <see cref="ContainerExecResult.Signal"/>.</summary>
    Signaled,

    /// <summary>The program was not found or could not be executed in the container (exit code 127 or 126).</summary>
    CommandNotFound,
}

/// <summary>What a command run in a container returned.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="ExitCode">The exit code as a shell would report it (128 + n after signal n).</param>
/// <param name="Signal">The signal that ended it, when <see cref="ContainerExecOutcome.Signaled"/>.</param>
/// <param name="StandardOutput">Standard output, unless it was streamed to <see cref="ContainerExecRequest.StandardOutput"/>.</param>
/// <param name="StandardError">Standard error, unless it was streamed or combined.</param>
/// <param name="Duration">How long it ran.</param>
public sealed record ContainerExecResult(ContainerExecOutcome Outcome, int ExitCode, int? Signal, string StandardOutput, string StandardError, TimeSpan Duration)
{
    /// <summary>The command wrote more than <see cref="ContainerExecRequest.MaxCollectedOutputBytes"/> to standard output: <see cref="StandardOutput"/> holds the first part.</summary>
    public bool StandardOutputTruncated { get; init; }

    /// <summary>The command wrote more than <see cref="ContainerExecRequest.MaxCollectedOutputBytes"/> to standard error: <see cref="StandardError"/> holds the first part.</summary>
    public bool StandardErrorTruncated { get; init; }
}
