namespace Virt.Containers;

/// <summary>
/// Defines, finds and deletes the containers of this host. Containers outlive the application: a new
/// manager finds them in its state directory again and re-attaches to those still running.
/// </summary>
public interface IContainerManager
{
    /// <summary>Validates the spec, builds the root file system and records the container (stopped).</summary>
    /// <param name="spec">The container.</param>
    /// <param name="cancellationToken">Cancels the call; a half-built container is removed.</param>
    /// <returns>The container.</returns>
    /// <exception cref="InvalidContainerSpecException">The spec is invalid; nothing was written.</exception>
    /// <exception cref="ContainerAlreadyExistsException">A container of that name exists.</exception>
    /// <exception cref="ContainerRootfsException">The rootfs source was refused or could not be unpacked; nothing was left behind.</exception>
    Task<IContainer> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Finds a container by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The container.</returns>
    /// <exception cref="ContainerNotFoundException">No such container.</exception>
    Task<IContainer> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists every container in the state directory.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The containers, by name.</returns>
    Task<IReadOnlyList<IContainer>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a container: its files, a rootfs the SDK built, and any veth, cgroup or mount it left.
    /// A running container is refused unless <paramref name="force"/>, which kills it first.
    /// </summary>
    /// <param name="name">The name.</param>
    /// <param name="force">Kill a running container first.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when it is gone.</returns>
    /// <exception cref="ContainerStateException">It runs and <paramref name="force"/> is false.</exception>
    Task DeleteAsync(string name, bool force = false, CancellationToken cancellationToken = default);
}

/// <summary>One container: lifecycle, commands, files, statistics and events.</summary>
public interface IContainer
{
    /// <summary>The name.</summary>
    string Name { get; }

    /// <summary>The spec.</summary>
    ContainerSpec Spec { get; }

    /// <summary>Checks the host (bridges, id ranges, cgroups, AppArmor), starts the container and verifies its limits.</summary>
    /// <param name="timeout">How long the start may take; <see langword="null"/> for the backend's default.</param>
    /// <param name="cancellationToken">Cancels the start; the container is killed and nothing is left behind.</param>
    /// <returns>A task that completes when it runs.</returns>
    /// <exception cref="ContainerPreflightException">The host lacks something the spec needs.</exception>
    /// <exception cref="ContainerStartException">LXC failed to start it; carries the cause and the log.</exception>
    /// <exception cref="ContainerLimitException">The host ignored a limit (and the backend is set to fail); the container was stopped.</exception>
    Task StartAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Asks init to halt, waits up to <paramref name="timeout"/>, then kills what is left.</summary>
    /// <param name="timeout">How long init may take.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when it has stopped.</returns>
    Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Kills every process of the container at once.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when it has stopped.</returns>
    Task KillAsync(CancellationToken cancellationToken = default);

    /// <summary>Asks init to reboot and waits until the container runs again.</summary>
    /// <param name="timeout">How long the reboot may take.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when it runs again.</returns>
    Task RebootAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Freezes every process through the cgroup freezer and waits until the kernel says frozen.</summary>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when frozen.</returns>
    Task FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Thaws a frozen container.</summary>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when thawed.</returns>
    Task UnfreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>The state now, from LXC's command socket.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>State and init pid.</returns>
    Task<ContainerStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Resource use now.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Memory, CPU, pids and network counters.</returns>
    /// <exception cref="ContainerStateException">It is not running.</exception>
    Task<ContainerStats> GetStatsAsync(CancellationToken cancellationToken = default);

    /// <summary>Runs a command inside the running container.</summary>
    /// <param name="request">The command, its environment, identity and streams.</param>
    /// <param name="cancellationToken">Cancels the command; it is killed.</param>
    /// <returns>How it ended and what it wrote.</returns>
    /// <exception cref="ContainerAttachException">The SDK could not enter the container (stopped, gone); the command never ran.</exception>
    /// <exception cref="ContainerExecTimeoutException">It ran past its timeout and was killed.</exception>
    Task<ContainerExecResult> ExecAsync(ContainerExecRequest request, CancellationToken cancellationToken = default);

    /// <summary>Writes a file inside the running container; symlinks resolve as the container sees them and cannot leave its root.</summary>
    /// <param name="path">The absolute path inside the container; its directory must exist.</param>
    /// <param name="content">The content.</param>
    /// <param name="mode">The permission bits of a new file.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    /// <returns>A task that completes when written.</returns>
    /// <exception cref="ContainerPathException">The path is refused or cannot be written.</exception>
    Task PushFileAsync(string path, Stream content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, CancellationToken cancellationToken = default);

    /// <summary>Reads a file inside the running container, resolving symlinks as the container sees them.</summary>
    /// <param name="path">The absolute path inside the container.</param>
    /// <param name="destination">Receives the content.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    /// <returns>A task that completes when read.</returns>
    /// <exception cref="ContainerPathException">The path is refused, missing or not a regular file.</exception>
    Task PullFileAsync(string path, Stream destination, CancellationToken cancellationToken = default);

    /// <summary>The tail of the console log (what init and the container's console printed).</summary>
    /// <param name="maxBytes">How much of the end to return.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text; empty when nothing was logged.</returns>
    Task<string> ReadConsoleLogAsync(int maxBytes = 65536, CancellationToken cancellationToken = default);

    /// <summary>State changes from now on — pushed by LXC while the container runs — until the enumeration is cancelled.</summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The events; the first is the state now.</returns>
    IAsyncEnumerable<ContainerEvent> WatchAsync(CancellationToken cancellationToken = default);
}
