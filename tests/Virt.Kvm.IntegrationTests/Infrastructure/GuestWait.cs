using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>Waits on the guest through its agent.</summary>
internal static class GuestWait
{
    /// <summary>Until the agent answers (qemu-ga starts after the ready marker).</summary>
    public static async Task ForAgentAsync(IVmGuest guest, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                await guest.PingAsync();
                return;
            }
            catch (VmGuestAgentUnavailableException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>Until a shell condition holds in the guest.</summary>
    public static async Task UntilAsync(IVmGuest guest, string condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var result = await guest.ExecAsync("/bin/sh", ["-c", condition]);
            if (result.ExitCode == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{condition}' did not hold in the guest: exit {result.ExitCode}, {result.StandardErrorText}");
            }

            await Task.Delay(50);
        }
    }
}
