using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// The source side of a live migration over QMP: parameters, <c>migrate</c>, and <c>query-migrate</c>
/// polled into progress reports. Knows nothing of where the destination QEMU came from, so the same
/// code sends a VM to this host or another.
/// </summary>
internal static class LiveMigration
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private const int CompletionFiguresRetries = 200;
    private static readonly TimeSpan CompletionFiguresRetryInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>QEMU's own default bandwidth (7.2 to 10.0), restored when a migration does not ask for its own.</summary>
    private const long DefaultMaxBandwidth = 128L << 20;

    /// <summary>Turns one of QEMU's migration capabilities on or off (QEMU keeps it for the next migration too).</summary>
    public static Task SetCapabilityAsync(QmpClient qmp, MigrateSetCapabilitiesArgumentsCapabilitiesCapability capability, bool state, CancellationToken cancellationToken) =>
        qmp.MigrateSetCapabilitiesAsync(
            new MigrateSetCapabilitiesArguments { Capabilities = [new MigrateSetCapabilitiesArgumentsCapabilities { Capability = capability, State = state }] },
            cancellationToken);

    public static async Task StartAsync(QmpClient source, string vmName, string uri, VmMigrationOptions options, AdaptiveDowntime? adaptiveDowntime, CancellationToken cancellationToken)
    {
        try
        {
            // Always set: QEMU keeps parameters for the next migration, so a retry after a throttled attempt that failed or
            // was cancelled would otherwise run at that attempt's bandwidth and downtime limit.
            await source.MigrateSetParametersAsync(
                new MigrateSetParametersArguments
                {
                    DowntimeLimit = (long?)options.DowntimeLimit?.TotalMilliseconds ?? adaptiveDowntime?.Current ?? AdaptiveDowntime.CeilingMilliseconds,
                    MaxBandwidth = options.MaxBandwidth ?? DefaultMaxBandwidth,
                },
                cancellationToken).ConfigureAwait(false);

            await source.MigrateAsync(new MigrateArguments { Uri = uri }, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            throw new VmMigrationException(vmName, $"QEMU refused '{ex.Command}': {ex.Description}", ex);
        }
    }

    /// <summary>
    /// One progress report; throws when QEMU says the migration failed or was cancelled. With <paramref name="adaptiveDowntime"/>
    /// (a migration that asked for no limit), raises QEMU's downtime limit as the passes over RAM go by.
    /// </summary>
    public static async Task<VmMigrationProgress> PollAsync(QmpClient source, string vmName, TimeSpan elapsed, AdaptiveDowntime? adaptiveDowntime, CancellationToken cancellationToken)
    {
        var info = await source.QueryMigrateAsync(cancellationToken).ConfigureAwait(false);

        if (info.Status?.Value == "completed")
        {
            // Not cancellable from here on: a completed migration is finished, not undone.
            info = await WithCompletionFiguresAsync(source, info).ConfigureAwait(false);
        }

        var status = info.Status?.Value ?? "none";
        if (status is "failed" or "cancelled")
        {
            throw new VmMigrationException(vmName, $"QEMU reports the migration {status}: {info.ErrorDesc ?? "no reason given"}; the VM runs on at the source");
        }

        if (adaptiveDowntime is not null && status == "active" && info.Ram is { } ram && adaptiveDowntime.Next(ram.DirtySyncCount) is { } raised)
        {
            try
            {
                await source.MigrateSetParametersAsync(new MigrateSetParametersArguments { DowntimeLimit = raised }, cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException)
            {
                // The migration ended meanwhile (QEMU refuses parameters only then): the next report says how.
            }
        }

        return new VmMigrationProgress(
            status,
            info.Ram?.Transferred ?? 0,
            info.Ram?.Remaining ?? 0,
            info.Ram?.Total ?? 0,
            info.TotalTime is { } total and > 0 && status == "completed" ? TimeSpan.FromMilliseconds(total) : elapsed,
            info.Downtime is { } downtime ? TimeSpan.FromMilliseconds(downtime) : null);
    }

    /// <summary>
    /// After a cancellation in the middle of a poll: the final report when QEMU had completed the migration meanwhile (the
    /// guest runs at the destination then, and the caller must finish rather than undo), else null. Never throws.
    /// </summary>
    public static async Task<VmMigrationProgress?> CompletedReportAsync(QmpClient source, TimeSpan elapsed)
    {
        try
        {
            var info = await source.QueryMigrateAsync(CancellationToken.None).ConfigureAwait(false);
            if (info.Status?.Value != "completed")
            {
                return null;
            }

            info = await WithCompletionFiguresAsync(source, info).ConfigureAwait(false);
            return new VmMigrationProgress("completed", info.Ram?.Transferred ?? 0, 0, info.Ram?.Total ?? 0, elapsed, info.Downtime is { } downtime ? TimeSpan.FromMilliseconds(downtime) : null)
            {
                Elapsed = info.TotalTime is { } total and > 0 ? TimeSpan.FromMilliseconds(total) : elapsed,
            };
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>
    /// QEMU's migration thread sets "completed" a moment before it fills in the total time and the downtime (7.2 to 10.0;
    /// longer when it also sends MIGRATION events): a report from that window reads 0 for both. Asks again, for at most a second.
    /// </summary>
    private static async Task<QueryMigrateResult> WithCompletionFiguresAsync(QmpClient source, QueryMigrateResult info)
    {
        for (var retry = 0; retry < CompletionFiguresRetries && info.TotalTime is null or 0; retry++)
        {
            await Task.Delay(CompletionFiguresRetryInterval, CancellationToken.None).ConfigureAwait(false);
            try
            {
                info = await source.QueryMigrateAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException)
            {
                // The migration is complete all the same: the report in hand stands, without its times.
                return info;
            }
        }

        return info;
    }

    /// <summary>
    /// Cancels a migration in flight and waits (up to 10 s) until QEMU has left "cancelling", so the
    /// source runs on and a new migration can start at once; the source resumes on its own.
    /// </summary>
    /// <returns>
    /// True when QEMU had completed the migration before the cancel reached it: the guest's state is at the destination
    /// then, and the source stays paused. Never throws.
    /// </returns>
    public static async Task<bool> CancelAsync(QmpClient source)
    {
        try
        {
            await source.MigrateCancelAsync(CancellationToken.None).ConfigureAwait(false);
            for (var i = 0; i < 100; i++)
            {
                var status = (await source.QueryMigrateAsync(CancellationToken.None).ConfigureAwait(false)).Status?.Value;
                if (status is null or "cancelled" or "failed" or "completed" or "none")
                {
                    return status == "completed";
                }

                await Task.Delay(PollInterval).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException or TimeoutException)
        {
            // Nothing in flight, or the source is gone: nothing to cancel.
        }

        return false;
    }
}
