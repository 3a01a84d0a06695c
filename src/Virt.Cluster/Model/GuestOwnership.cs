namespace Virt.Clustering;

/// <summary>Which node owns a clustered guest: only that node starts, stops or migrates it.</summary>
/// <param name="Kind">The guest's kind.</param>
/// <param name="Name">The guest's name.</param>
/// <param name="Node">The owner node.</param>
/// <param name="MemoryBytes">The guest's memory, counted against its node at placement.</param>
/// <param name="AntiAffinityGroup">Guests of one group are placed on different nodes; <see langword="null"/> for none.</param>
/// <param name="Revision">The revision of the ownership record: pass it back to transfer it (compare-and-swap).</param>
/// <param name="HighAvailability">The HA agents keep it running: its node kills it when the node loses its lease, and a survivor restarts it on another node when the node dies.</param>
/// <param name="RequestedState">For an HA guest, the state its owner's HA agent keeps it in (Proxmox's requested state): started, or stopped on purpose.</param>
public sealed record GuestOwnership(ClusterGuestKind Kind, string Name, string Node, long MemoryBytes, string? AntiAffinityGroup, long Revision, bool HighAvailability = false, HaRequestedState RequestedState = HaRequestedState.Started);

/// <summary>The state the HA agents keep an HA guest in (Proxmox's <c>ha-manager set --state</c>).</summary>
public enum HaRequestedState
{
    /// <summary>Running: started where it stops, restarted on a survivor when its node dies.</summary>
    Started,

    /// <summary>
    /// Stopped on purpose: its owner shuts it down (killing it after <see cref="ClusterHaOptions.StopTimeout"/>) and no
    /// agent starts it; a dead node's stopped HA guest is still handed to a survivor, which keeps it stopped.
    /// </summary>
    Stopped,
}

/// <summary>What a guest asks of the node it is claimed on.</summary>
/// <param name="MemoryBytes">The guest's memory.</param>
/// <param name="AntiAffinityGroup">Guests of one group are placed on different nodes; <see langword="null"/> for none.</param>
/// <param name="HighAvailability">Kept running by the HA agents (see <see cref="GuestOwnership.HighAvailability"/>).</param>
public sealed record GuestClaim(long MemoryBytes, string? AntiAffinityGroup = null, bool HighAvailability = false);
