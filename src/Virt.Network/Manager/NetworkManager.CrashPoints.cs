namespace Virt.Network.Manager;

/// <summary>Where <see cref="NetworkManager.CrashAt"/> stops a change, between the steps ExecuteAsync runs under the journal.</summary>
internal enum ApplyCrashPoint
{
    /// <summary>Every link operation done and counted in the journal; the firewall not yet replaced.</summary>
    AfterLinks,

    /// <summary>The firewall's tables replaced; dnsmasq not yet started, reloaded or stopped.</summary>
    AfterFirewall,

    /// <summary>Every step done, dnsmasq included; the journal not yet deleted.</summary>
    AfterDhcp,
}

// Crash tests: a change stopped between two of its steps, as if the process had died there.
public sealed partial class NetworkManager
{
    /// <summary>
    /// For crash tests: the change stops at this point as if the process had died (no rollback, the journal and the host
    /// state so far stay), after <see cref="AtSimulatedCrash"/> is awaited. <see langword="null"/> in normal use.
    /// </summary>
    internal ApplyCrashPoint? CrashAt { get; set; }

    /// <summary>Stops the change at <paramref name="point"/> when <see cref="CrashAt"/> names it; <paramref name="completed"/> link operations are done.</summary>
    private async Task CrashIfAtAsync(ApplyCrashPoint point, int completed)
    {
        if (CrashAt != point)
        {
            return;
        }

        if (AtSimulatedCrash is { } pause)
        {
            await pause(completed).ConfigureAwait(false);
        }

        throw new SimulatedCrashException($"simulated crash {point}, the journal written and {completed} link operations done");
    }
}
