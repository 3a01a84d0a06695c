using Virt.Clustering;
using Virt.Kvm.Testing;
using Virt.VirtualMachines;

namespace Virt.Cluster.IntegrationTests.Infrastructure;

/// <summary>What the tests that run the test guest on cluster nodes share: the skip when it is not built, and waiting.</summary>
internal static class ClusterGuests
{
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";

    /// <summary>The HA agent's timings in the tests: the default 2 s recovery wait, checks every 500 ms.</summary>
    public static ClusterHaOptions FastHa { get; } = new() { RecoveryDelay = TimeSpan.FromSeconds(2), ReconcileInterval = TimeSpan.FromMilliseconds(500) };

    public static void Require() =>
        HostRequirement.Require(File.Exists(Path.Combine(EmbeddedGuest.DefaultDirectory, "initramfs.gz")), $"the test guest in {EmbeddedGuest.DefaultDirectory} (bash scripts/build-guest.sh)");

    /// <summary>Polls <paramref name="condition"/> every 100 ms for up to 90 s (a loaded 2-core machine boots TCG guests slowly).</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited 90 s for {what}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The guest's boot id, through its agent, once the agent answers.</summary>
    public static async Task<string> BootIdAsync(IVirtualMachine vm)
    {
        string? bootId = null;
        await WaitForAsync(
            async () =>
            {
                try
                {
                    bootId = (await vm.Guest.ExecAsync("/bin/cat", [BootIdPath], cancellationToken: TestContext.Current.CancellationToken)).StandardOutputText;
                    return true;
                }
                catch (VirtException)
                {
                    return false; // The agent is not up yet.
                }
            },
            $"the guest agent of {vm.Name}");
        return bootId!;
    }

    /// <summary>Takes each fenced Ceph client off the blocklist and deletes the test's pool, each step on its own so one failure skips no other.</summary>
    public static void CleanUpCeph(Virt.Storage.IntegrationTests.Infrastructure.CephCluster ceph, IEnumerable<string> fenced, string cephPool)
    {
        foreach (var address in fenced.Distinct())
        {
            try
            {
                Virt.Storage.IntegrationTests.Infrastructure.Host.Run("ceph", "-c", ceph.ConfigPath!, "osd", "blocklist", "rm", address);
            }
            catch (InvalidOperationException e)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"clean-up: {e.Message}");
            }
        }

        ceph.DeletePool(cephPool);
    }
}
