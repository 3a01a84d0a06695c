using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines;

public sealed class VmLockTests
{
    [Fact]
    public async Task A_waiter_that_times_out_learns_which_operation_holds_the_lock()
    {
        var vmLock = new VmLock("web-01", TimeSpan.FromMilliseconds(100), TimeProvider.System);
        using var held = await vmLock.AcquireAsync("shut down", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<VmLockTimeoutException>(() => vmLock.AcquireAsync("start", TestContext.Current.CancellationToken));

        Assert.Equal("shut down", error.Holder);
        Assert.Contains("cannot start VM 'web-01': 'shut down' has held its lock", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<TimeoutException>(error);
    }

    [Fact]
    public async Task Releasing_lets_the_next_operation_in_and_double_release_is_harmless()
    {
        var vmLock = new VmLock("web-01", TimeSpan.FromSeconds(5), TimeProvider.System);
        var first = await vmLock.AcquireAsync("pause", TestContext.Current.CancellationToken);
        var second = vmLock.AcquireAsync("resume", TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);

        first.Dispose();
        first.Dispose();
        using var next = await second;

        var third = vmLock.AcquireAsync("kill", TestContext.Current.CancellationToken);
        Assert.False(third.IsCompleted);
    }
}
