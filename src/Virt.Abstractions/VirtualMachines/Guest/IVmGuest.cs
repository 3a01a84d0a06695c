namespace Virt.VirtualMachines;

/// <summary>
/// The VM's guest agent: what can be asked of the OS inside. Every call has a deadline; a VM without
/// an agent channel, a VM that is not running, or an agent that does not answer (not installed, not
/// started yet, guest paused) is a <see cref="VmGuestAgentUnavailableException"/> within that deadline.
/// </summary>
public interface IVmGuest
{
    /// <summary>Checks that the agent answers.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when it answered.</returns>
    Task PingAsync(CancellationToken cancellationToken = default);

    /// <summary>The guest's kernel and OS release.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The OS description.</returns>
    Task<GuestOsInfo> GetOsInfoAsync(CancellationToken cancellationToken = default);

    /// <summary>The guest's network interfaces and their addresses.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>One entry per interface.</returns>
    Task<IReadOnlyList<GuestNetworkInterface>> GetNetworkInterfacesAsync(CancellationToken cancellationToken = default);

    /// <summary>Runs a program in the guest and returns its exit code (or signal) and its separate outputs.</summary>
    /// <param name="path">The program in the guest, e.g. "/bin/sh".</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="standardInput">Bytes for its standard input, if any.</param>
    /// <param name="timeout">How long it may run (default one minute).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome.</returns>
    Task<GuestExecResult> ExecAsync(string path, IReadOnlyList<string>? arguments = null, byte[]? standardInput = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>Freezes the guest's file systems (before a disk-only snapshot); thaw them with <see cref="ThawFileSystemsAsync"/>.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>How many file systems were frozen.</returns>
    Task<int> FreezeFileSystemsAsync(CancellationToken cancellationToken = default);

    /// <summary>Thaws file systems frozen with <see cref="FreezeFileSystemsAsync"/>.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>How many file systems were thawed.</returns>
    Task<int> ThawFileSystemsAsync(CancellationToken cancellationToken = default);

    /// <summary>Asks the guest OS to power off, halt or reboot (the agent answers nothing when it complies).</summary>
    /// <param name="mode">What to do.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the request was delivered.</returns>
    Task ShutdownAsync(GuestShutdownMode mode = GuestShutdownMode.Powerdown, CancellationToken cancellationToken = default);
}
