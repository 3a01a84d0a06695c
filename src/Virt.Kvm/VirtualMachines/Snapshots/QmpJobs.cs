using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Kvm.VirtualMachines.Snapshots;

/// <summary>
/// Runs a QEMU job to its end: waits for <c>JOB_STATUS_CHANGE</c> to <c>concluded</c> (subscribed before
/// the job starts), reads its error from <c>query-jobs</c>, and dismisses it so no job is left behind.
/// </summary>
internal static class QmpJobs
{
    /// <returns>The job's error, or null when it succeeded.</returns>
    public static async Task<string?> RunAsync(QmpClient qmp, string jobId, Func<CancellationToken, Task> start, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var concluded = qmp.WaitForEventAsync<JobStatusChangeEvent>(e => e.Id == jobId && e.Status == QueryBlockJobsResultStatus.Concluded, timeout, cancellationToken);
        try
        {
            await start(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _ = concluded.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            throw;
        }

        try
        {
            await concluded.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QmpTimeoutException or OperationCanceledException)
        {
            // Cancel and dismiss what is left of it, so no job is left running.
            await TryAsync(() => qmp.JobCancelAsync(new JobCancelArguments { Id = jobId }, CancellationToken.None)).ConfigureAwait(false);
            throw;
        }

        var job = (await qmp.QueryJobsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(j => j.Id == jobId);
        await TryAsync(() => qmp.JobDismissAsync(new JobDismissArguments { Id = jobId }, CancellationToken.None)).ConfigureAwait(false);
        return job?.Error;
    }

    private static async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (QmpException)
        {
            // Already gone.
        }
    }
}
