namespace Virt.Containers;

/// <summary>A container's state, as LXC reports it (the numbering follows LXC's).</summary>
public enum ContainerState
{
    /// <summary>Not running.</summary>
    Stopped = 0,

    /// <summary>Being set up.</summary>
    Starting = 1,

    /// <summary>Running.</summary>
    Running = 2,

    /// <summary>Being stopped.</summary>
    Stopping = 3,

    /// <summary>Start failed; being torn down.</summary>
    Aborting = 4,

    /// <summary>Being frozen.</summary>
    Freezing = 5,

    /// <summary>Frozen: every process stopped by the cgroup freezer.</summary>
    Frozen = 6,

    /// <summary>Thawed after a freeze (running again).</summary>
    Thawed = 7,
}

/// <summary>A container's state now.</summary>
/// <param name="State">Its state.</param>
/// <param name="InitPid">PID 1's host pid while it runs.</param>
public sealed record ContainerStatus(ContainerState State, int? InitPid);

/// <summary>A state change of a container.</summary>
/// <param name="ContainerName">The container.</param>
/// <param name="State">The state it entered.</param>
/// <param name="Timestamp">When the SDK saw it.</param>
public sealed record ContainerEvent(string ContainerName, ContainerState State, DateTimeOffset Timestamp);

/// <summary>Resource use of a running container, read from cgroupfs and the host ends of its interfaces.</summary>
/// <param name="MemoryBytes">Memory in use (page cache included, as the cgroup counts it).</param>
/// <param name="MemoryLimitBytes">The effective memory limit, <see langword="null"/> when unlimited.</param>
/// <param name="CpuTime">CPU time used since start.</param>
/// <param name="Pids">Processes and threads now.</param>
/// <param name="NetworkReceivedBytes">Bytes the container received, over all its interfaces.</param>
/// <param name="NetworkSentBytes">Bytes the container sent, over all its interfaces.</param>
public sealed record ContainerStats(long MemoryBytes, long? MemoryLimitBytes, TimeSpan CpuTime, int Pids, long NetworkReceivedBytes, long NetworkSentBytes);
