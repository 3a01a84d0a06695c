using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Serializes the operations on one VM, within this process (a semaphore) and across every process
/// that manages it (a <see cref="VmFileLock"/> on the VM's <c>operation.lock</c>); a waiter that times
/// out learns which operation holds the lock, and in which process.
/// </summary>
internal sealed class VmLock(string vmName, string lockFile, TimeSpan timeout, TimeProvider time)
{
    private readonly SemaphoreSlim _semaphore = new(1, 1);
    private string _holder = string.Empty;
    private long _heldSince;

    public async Task<IDisposable> AcquireAsync(string operation, CancellationToken cancellationToken) =>
        (await AcquireCoreAsync(operation, timeout, throwOnTimeout: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>Takes the lock within <paramref name="wait"/>; null when it stayed held (by this process or another).</summary>
    public Task<IDisposable?> TryAcquireAsync(string operation, TimeSpan wait, CancellationToken cancellationToken) =>
        AcquireCoreAsync(operation, wait, throwOnTimeout: false, cancellationToken);

    private async Task<IDisposable?> AcquireCoreAsync(string operation, TimeSpan wait, bool throwOnTimeout, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        if (!await _semaphore.WaitAsync(wait, cancellationToken).ConfigureAwait(false))
        {
            return throwOnTimeout
                ? throw new VmLockTimeoutException(vmName, operation, Volatile.Read(ref _holder), time.GetElapsedTime(Volatile.Read(ref _heldSince)))
                : null;
        }

        VmFileLock? shared;
        try
        {
            var left = wait - time.GetElapsedTime(started);
            shared = await VmFileLock.AcquireAsync(lockFile, operation, left > TimeSpan.Zero ? left : TimeSpan.Zero, time, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _semaphore.Release();
            throw;
        }

        if (shared is null)
        {
            _semaphore.Release();

            // Free in this process: another one holds it; the lock file says "pid operation".
            var other = VmFileLock.DescribeHolder(lockFile);
            return throwOnTimeout
                ? throw new VmLockTimeoutException(vmName, operation, other.Length == 0 ? "an operation in another process" : $"process {other}", time.GetElapsedTime(started))
                : null;
        }

        Volatile.Write(ref _holder, operation);
        Volatile.Write(ref _heldSince, time.GetTimestamp());
        return new Releaser(this, shared);
    }

    private sealed class Releaser(VmLock owner, VmFileLock shared) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                shared.Dispose();
                owner._semaphore.Release();
            }
        }
    }
}
