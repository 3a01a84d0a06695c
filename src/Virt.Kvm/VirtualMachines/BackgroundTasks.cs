namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The background loops of one VM (event watch, serial-log trimming, following another process's run):
/// started here instead of discarded, so disposal can wait for them and no loop outlives its manager.
/// Each loop catches and logs its own failures; one that throws anyway is not lost (its exception is observed here).
/// </summary>
internal sealed class BackgroundTasks
{
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _running = [];

    /// <summary>Starts <paramref name="loop"/> and keeps it until it ends.</summary>
    public void Run(Func<Task> loop)
    {
        var task = Task.Run(loop);
        lock (_gate)
        {
            _running.Add(task);
        }

        _ = task.ContinueWith(Forget, TaskScheduler.Default);
    }

    /// <summary>Waits for every loop started so far to end (they end once the VM is let go of or stops).</summary>
    public async Task WhenAllAsync()
    {
        Task[] pending;
        lock (_gate)
        {
            pending = [.. _running];
        }

        try
        {
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already logged by the loop itself; disposal goes on.
        }
    }

    private void Forget(Task finished)
    {
        _ = finished.Exception;
        lock (_gate)
        {
            _running.Remove(finished);
        }
    }
}
