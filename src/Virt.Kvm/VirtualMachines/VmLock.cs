using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Serializes the operations on one VM; a waiter that times out learns which operation holds the lock.</summary>
internal sealed class VmLock(string vmName, TimeSpan timeout, TimeProvider time)
{
    private readonly SemaphoreSlim _semaphore = new(1, 1);
    private string _holder = string.Empty;
    private long _heldSince;

    public async Task<IDisposable> AcquireAsync(string operation, CancellationToken cancellationToken)
    {
        if (!await _semaphore.WaitAsync(timeout, cancellationToken).ConfigureAwait(false))
        {
            throw new VmLockTimeoutException(vmName, operation, Volatile.Read(ref _holder), time.GetElapsedTime(Volatile.Read(ref _heldSince)));
        }

        Volatile.Write(ref _holder, operation);
        Volatile.Write(ref _heldSince, time.GetTimestamp());
        return new Releaser(this);
    }

    private sealed class Releaser(VmLock owner) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner._semaphore.Release();
            }
        }
    }
}
