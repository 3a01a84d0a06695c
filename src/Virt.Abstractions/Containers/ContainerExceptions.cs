namespace Virt.Containers;

/// <summary>No container of that name exists in the state directory.</summary>
public sealed class ContainerNotFoundException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The name looked up.</param>
    /// <param name="stateDirectory">Where it was looked up.</param>
    public ContainerNotFoundException(string containerName, string stateDirectory)
        : base(VirtErrorKind.NotFound, $"container '{containerName}' does not exist in '{stateDirectory}': create it first, or check the name")
    {
        ContainerName = containerName;
    }

    /// <summary>The name looked up.</summary>
    public string ContainerName { get; }
}

/// <summary>A container of that name already exists.</summary>
public sealed class ContainerAlreadyExistsException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The name.</param>
    public ContainerAlreadyExistsException(string containerName)
        : base(VirtErrorKind.Conflict, $"container '{containerName}' already exists: choose another name, or delete the existing container first")
    {
        ContainerName = containerName;
    }

    /// <summary>The name.</summary>
    public string ContainerName { get; }
}

/// <summary>The operation does not fit the container's state (e.g. exec into a stopped one, deleting a running one).</summary>
public sealed class ContainerStateException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="operation">What was tried.</param>
    /// <param name="state">Its state.</param>
    /// <param name="fix">What to do.</param>
    public ContainerStateException(string containerName, string operation, ContainerState state, string fix)
        : base(VirtErrorKind.Conflict, $"cannot {operation} container '{containerName}' while it is {state.ToString().ToLowerInvariant()}: {fix}")
    {
        ContainerName = containerName;
        State = state;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>Its state.</summary>
    public ContainerState State { get; }
}

/// <summary>One thing wrong with a <see cref="ContainerSpec"/>.</summary>
/// <param name="Field">The field, as a path (e.g. "Network[0].Link").</param>
/// <param name="Message">What is wrong and how to fix it.</param>
public sealed record ContainerSpecProblem(string Field, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>A <see cref="ContainerSpec"/> failed validation; nothing was created or started.</summary>
public sealed class InvalidContainerSpecException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The name as given.</param>
    /// <param name="problems">Everything found wrong.</param>
    public InvalidContainerSpecException(string containerName, IReadOnlyList<ContainerSpecProblem> problems)
        : base(VirtErrorKind.InvalidInput, $"the spec of container '{containerName}' is invalid: " + string.Join("; ", problems))
    {
        ContainerName = containerName;
        Problems = problems;
    }

    /// <summary>The name as given.</summary>
    public string ContainerName { get; }

    /// <summary>Everything found wrong, each with its field and fix.</summary>
    public IReadOnlyList<ContainerSpecProblem> Problems { get; }
}

/// <summary>The root file system source was refused (an unsafe tarball entry, a bad OCI layout) or could not be unpacked.</summary>
public sealed class ContainerRootfsException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="source">The source path.</param>
    /// <param name="message">What was wrong and the fix.</param>
    /// <param name="innerException">The underlying error.</param>
    public ContainerRootfsException(string containerName, string source, string message, Exception? innerException = null)
        : base(VirtErrorKind.Failed, $"cannot build the rootfs of container '{containerName}' from '{source}': {message}", innerException)
    {
        ContainerName = containerName;
        Source = source;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>The source path.</summary>
    public new string Source { get; }
}

/// <summary>Why LXC could not start a container, read from its log.</summary>
public enum ContainerStartFailure
{
    /// <summary>Not recognised; see the log.</summary>
    Unknown,

    /// <summary>A bridge or parent interface named in the network does not exist.</summary>
    MissingNetworkLink,

    /// <summary>The root file system could not be found or mounted.</summary>
    Rootfs,

    /// <summary>The init command could not be executed.</summary>
    Init,

    /// <summary>AppArmor refused or is unavailable.</summary>
    AppArmor,

    /// <summary>The user-namespace id map could not be applied.</summary>
    IdMap,

    /// <summary>A cgroup could not be created or a limit could not be set.</summary>
    Cgroup,

    /// <summary>A mount entry failed.</summary>
    Mount,

    /// <summary>It did not reach running within the deadline.</summary>
    Timeout,
}

/// <summary>LXC failed to start a container; the message carries the cause found in the per-call log.</summary>
public sealed class ContainerStartException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="failure">The cause.</param>
    /// <param name="message">What LXC said and the fix.</param>
    /// <param name="logPath">The per-call LXC log.</param>
    /// <param name="logTail">The log's error lines.</param>
    public ContainerStartException(string containerName, ContainerStartFailure failure, string message, string logPath, string logTail)
        : base(VirtErrorKind.Failed, $"container '{containerName}' did not start: {message} (LXC log: {logPath})")
    {
        ContainerName = containerName;
        Failure = failure;
        LogPath = logPath;
        LogTail = logTail;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>The cause.</summary>
    public ContainerStartFailure Failure { get; }

    /// <summary>The per-call LXC log.</summary>
    public string LogPath { get; }

    /// <summary>The log's error lines.</summary>
    public string LogTail { get; }
}

/// <summary>The host lacks something the container needs (a bridge, id ranges, a cgroup controller, AppArmor); nothing was started.</summary>
public sealed class ContainerPreflightException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="problems">Each missing thing with its fix.</param>
    public ContainerPreflightException(string containerName, IReadOnlyList<string> problems)
        : base(VirtErrorKind.Refused, $"container '{containerName}' cannot start on this host: " + string.Join("; ", problems))
    {
        ContainerName = containerName;
        Problems = problems;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>Each missing thing with its fix.</summary>
    public IReadOnlyList<string> Problems { get; }
}

/// <summary>A limit in the spec is not in effect after start: the host ignored it (read back from cgroupfs).</summary>
public sealed class ContainerLimitException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="mismatches">Each limit that is not in effect: what was asked and what cgroupfs says.</param>
    public ContainerLimitException(string containerName, IReadOnlyList<string> mismatches)
        : base(VirtErrorKind.Refused, $"container '{containerName}' would run without the limits it asked for, so it was stopped: " + string.Join("; ", mismatches))
    {
        ContainerName = containerName;
        Mismatches = mismatches;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>Each limit not in effect.</summary>
    public IReadOnlyList<string> Mismatches { get; }
}

/// <summary>The SDK could not enter the container to run a command (it is stopped or gone); the command never ran.</summary>
public sealed class ContainerAttachException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="message">What LXC said and the fix.</param>
    public ContainerAttachException(string containerName, string message)
        : base(VirtErrorKind.Failed, $"cannot run a command in container '{containerName}': {message}")
    {
        ContainerName = containerName;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }
}

/// <summary>A command in a container ran past its timeout and was killed.</summary>
public sealed class ContainerExecTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="command">The command.</param>
    /// <param name="timeout">Its timeout.</param>
    public ContainerExecTimeoutException(string containerName, string command, TimeSpan timeout)
        : base($"'{command}' in container '{containerName}' ran past its timeout of {timeout.TotalSeconds:0.###} s and was killed: raise ContainerExecRequest.Timeout, or find why it hangs")
    {
        ContainerName = containerName;
        Timeout = timeout;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>The timeout.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>A path inside a container was refused, or the file could not be read or written.</summary>
public sealed class ContainerPathException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="containerName">The container.</param>
    /// <param name="path">The path as given.</param>
    /// <param name="message">What is wrong and the fix.</param>
    public ContainerPathException(string containerName, string path, string message)
        : this(VirtErrorKind.Failed, containerName, path, message)
    {
    }

    /// <summary>Creates the exception of a given kind (<see cref="VirtErrorKind.InvalidInput"/> for a path refused as given).</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="containerName">The container.</param>
    /// <param name="path">The path as given.</param>
    /// <param name="message">What is wrong and the fix.</param>
    public ContainerPathException(VirtErrorKind errorKind, string containerName, string path, string message)
        : base(errorKind, $"container '{containerName}', path '{path}': {message}")
    {
        ContainerName = containerName;
        Path = path;
    }

    /// <summary>The container.</summary>
    public string ContainerName { get; }

    /// <summary>The path as given.</summary>
    public string Path { get; }
}
