using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines;

public sealed class VmLockTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("virt-lock-").FullName;

    private string LockFile => Path.Combine(_directory, "operation.lock");

    [Fact]
    public async Task A_waiter_that_times_out_learns_which_operation_holds_the_lock()
    {
        var vmLock = new VmLock("web-01", LockFile, TimeSpan.FromMilliseconds(100), TimeProvider.System);
        using var held = await vmLock.AcquireAsync("shut down", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<VmLockTimeoutException>(() => vmLock.AcquireAsync("start", TestContext.Current.CancellationToken));

        Assert.Equal("shut down", error.Holder);
        Assert.Contains("cannot start VM 'web-01': 'shut down' has held its lock", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<TimeoutException>(error);
    }

    [Fact]
    public async Task Releasing_lets_the_next_operation_in_and_double_release_is_harmless()
    {
        var vmLock = new VmLock("web-01", LockFile, TimeSpan.FromSeconds(5), TimeProvider.System);
        var first = await vmLock.AcquireAsync("pause", TestContext.Current.CancellationToken);
        var second = vmLock.AcquireAsync("resume", TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);

        first.Dispose();
        first.Dispose();
        using var next = await second;

        // The third waiter is cancelled and observed, so it cannot take the lock file while Dispose deletes the directory.
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var third = vmLock.AcquireAsync("kill", giveUp.Token);
        Assert.False(third.IsCompleted);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third);
    }

    [Fact]
    public async Task A_second_manager_of_the_same_VM_waits_for_the_first_and_learns_which_process_holds_it()
    {
        // Two managers (in two processes, or two service providers in one) each have their own VmLock on the VM's lock file.
        var first = new VmLock("web-01", LockFile, TimeSpan.FromSeconds(5), TimeProvider.System);
        var second = new VmLock("web-01", LockFile, TimeSpan.FromMilliseconds(200), TimeProvider.System);
        var held = await first.AcquireAsync("save snapshot", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<VmLockTimeoutException>(() => second.AcquireAsync("pause", TestContext.Current.CancellationToken));
        Assert.Equal($"process {Environment.ProcessId} save snapshot", error.Holder);
        Assert.Null(await second.TryAcquireAsync("query status", TimeSpan.Zero, TestContext.Current.CancellationToken));

        held.Dispose();
        using var next = await second.AcquireAsync("pause", TestContext.Current.CancellationToken);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
