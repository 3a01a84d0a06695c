using Virt.Cluster.Store;
using Virt.Containers;
using Virt.VirtualMachines;
using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

/// <summary>Carrying out a drain asked of this node.</summary>
public sealed partial class ClusterMigrationAgent
{
    /// <summary>Carries out the drains asked of this node, one after the other, until none is waiting.</summary>
    private async Task DrainWhileAskedAsync(bool resumeRunning, CancellationToken cancellationToken)
    {
        var resume = resumeRunning;
        while (true)
        {
            try
            {
                while (await NextDrainAsync(resume, cancellationToken).ConfigureAwait(false) is { } asked)
                {
                    await DrainOnceAsync(asked.Record, asked.Revision, cancellationToken).ConfigureAwait(false);
                    resume = false;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // etcd out of reach: the drain record stays as it was, and is taken up again by this node's next agent.
                Log.MigrationFailed(_logger, $"draining node {_cluster.NodeName}", e.Message);
            }
            finally
            {
                Interlocked.Exchange(ref _draining, 0);
            }

            // A request that came between the last read and clearing the flag found the flag set and was left: look once more.
            try
            {
                if (cancellationToken.IsCancellationRequested || await NextDrainAsync(false, cancellationToken).ConfigureAwait(false) is null
                    || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
                {
                    return;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Log.MigrationFailed(_logger, $"reading the drain of node {_cluster.NodeName}", e.Message);
                return;
            }
        }
    }

    /// <summary>
    /// The drain waiting for this node, once this process holds the node's lease (a panel's agent starts before it has
    /// joined; nothing can be migrated until then): a requested one, or with <paramref name="resumeRunning"/> one that a
    /// process of this node left running when it ended.
    /// </summary>
    private async Task<(DrainRecord Record, long Revision)?> NextDrainAsync(bool resumeRunning, CancellationToken cancellationToken)
    {
        while (!_cluster.HoldsLease)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken).ConfigureAwait(false);
        }

        return await _cluster.ReadDrainAsync(_cluster.NodeName, cancellationToken).ConfigureAwait(false) is { } asked
            && (asked.Record.State == ClusterDrainState.Requested || (resumeRunning && asked.Record.State == ClusterDrainState.Running))
            ? asked
            : null;
    }

    /// <summary>
    /// One drain: every running clustered VM of this node migrated (each failure recorded with its reason, never left
    /// hanging), then the containers per the policy, then the outcome written. A drain called off meanwhile starts nothing more.
    /// </summary>
    private async Task DrainOnceAsync(DrainRecord asked, long revision, CancellationToken cancellationToken)
    {
        using var progress = new DrainProgress(_cluster, asked with { State = ClusterDrainState.Running }, revision);
        if (!await progress.SaveAsync(cancellationToken).ConfigureAwait(false))
        {
            return; // Called off, or another process of this node took it.
        }

        var owned = (await _cluster.ListGuestsAsync(cancellationToken).ConfigureAwait(false)).Where(g => g.Node == _cluster.NodeName).ToList();
        var vms = new List<string>();
        foreach (var guest in owned.Where(g => g.Kind == Vm))
        {
            try
            {
                if (await RunsHereAsync(guest.Name, cancellationToken).ConfigureAwait(false))
                {
                    vms.Add(guest.Name);
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                await progress.AddAsync(r => r with { Failures = [.. r.Failures, new DrainFailure(Vm, guest.Name, $"its state could not be read on node {_cluster.NodeName}: {e.Message}")] }, cancellationToken).ConfigureAwait(false);
            }
        }

        using (var slots = new SemaphoreSlim(_options.DrainParallelism))
        {
            await Task.WhenAll(vms.Select(name => MoveOneAsync(name, slots, progress, cancellationToken))).ConfigureAwait(false);
        }

        foreach (var container in owned.Where(g => g.Kind == ClusterGuestKind.Container))
        {
            if (progress.CalledOff)
            {
                break;
            }

            await HandleContainerAsync(container.Name, progress, cancellationToken).ConfigureAwait(false);
        }

        if (!progress.CalledOff)
        {
            var finished = await progress.FinishAsync(cancellationToken).ConfigureAwait(false);
            Log.DrainFinished(_logger, _cluster.NodeName, finished.Moved.Count, finished.Stopped.Count, finished.Failures.Count);
        }
    }

    private async Task<bool> RunsHereAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var state = (await (await _vms.GetAsync(name, cancellationToken).ConfigureAwait(false)).GetStatusAsync(cancellationToken).ConfigureAwait(false)).State;
            return state is VmState.Running or VmState.Paused;
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            return false;
        }
    }

    private async Task MoveOneAsync(string name, SemaphoreSlim slots, DrainProgress progress, CancellationToken cancellationToken)
    {
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (progress.CalledOff)
            {
                return;
            }

            Func<DrainRecord, DrainRecord> outcome;
            try
            {
                var moved = await MigrateAsync(name, toNode: null, progress: null, cancellationToken).ConfigureAwait(false);
                outcome = r => r with { Moved = [.. r.Moved, new DrainedGuest(name, moved.Destination)] };
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                outcome = r => r with { Failures = [.. r.Failures, new DrainFailure(Vm, name, e.Message)] };
            }

            await progress.AddAsync(outcome, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            slots.Release();
        }
    }

    private async Task HandleContainerAsync(string name, DrainProgress progress, CancellationToken cancellationToken)
    {
        if (_options.ContainerPolicy == DrainContainerPolicy.Keep)
        {
            return;
        }

        if (_containers is null)
        {
            await progress.AddAsync(r => r with { Failures = [.. r.Failures, new DrainFailure(ClusterGuestKind.Container, name, $"node {_cluster.NodeName}'s migration agent has no container manager to stop it with")] }, cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            var container = await _containers.GetAsync(name, cancellationToken).ConfigureAwait(false);
            if ((await container.GetStatusAsync(cancellationToken).ConfigureAwait(false)).State is ContainerState.Stopped)
            {
                return;
            }

            await container.StopAsync(_options.ContainerStopTimeout, cancellationToken).ConfigureAwait(false);
            await progress.AddAsync(r => r with { Stopped = [.. r.Stopped, name] }, cancellationToken).ConfigureAwait(false);
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            // Owned by this node but not defined here: nothing runs to stop.
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            await progress.AddAsync(r => r with { Failures = [.. r.Failures, new DrainFailure(ClusterGuestKind.Container, name, e.Message)] }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The drain record as this agent advances it: one writer at a time (migrations may run in parallel), each write a
    /// compare-and-swap on the last revision, so a drain called off (<see cref="IClusterManager.ResumeAsync"/>) is noticed at
    /// the next write and nothing more is started.
    /// </summary>
    private sealed class DrainProgress(ClusterManager cluster, DrainRecord record, long revision) : IDisposable
    {
        private readonly SemaphoreSlim _write = new(1, 1);

        public bool CalledOff { get; private set; }

        public Task<bool> SaveAsync(CancellationToken cancellationToken) => AddAsync(r => r, cancellationToken);

        public async Task<bool> AddAsync(Func<DrainRecord, DrainRecord> change, CancellationToken cancellationToken)
        {
            await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (CalledOff)
                {
                    return false;
                }

                var next = change(record);
                var written = await cluster.UpdateDrainAsync(cluster.NodeName, revision, next, cancellationToken).ConfigureAwait(false);
                if (written == 0)
                {
                    CalledOff = true;
                    return false;
                }

                (record, revision) = (next, written);
                return true;
            }
            finally
            {
                _write.Release();
            }
        }

        public async Task<DrainRecord> FinishAsync(CancellationToken cancellationToken)
        {
            await AddAsync(r => r with { State = r.Failures.Count == 0 ? ClusterDrainState.Done : ClusterDrainState.Failed }, cancellationToken).ConfigureAwait(false);
            return record;
        }

        public void Dispose() => _write.Dispose();
    }
}
