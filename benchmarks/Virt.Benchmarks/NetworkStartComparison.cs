using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using Virt.Kvm.Hosting;
using Virt.Kvm.Testing;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Benchmarks;

/// <summary>
/// Issue 18: <c>StartAsync</c> → running for a VM whose NIC is on a managed network (port prepared with a 3-rule firewall
/// and anti-spoofing, tap connected by the network manager) against the same VM with a tap on a plain bridge the benchmark
/// made (<see cref="VmNicBackend.Bridge"/>), alternating, medians. Both live in the root namespace (QEMU opens its tap
/// there): the network has a unique name, its own nftables table, and is deleted at the end with the plain bridge.
/// </summary>
internal static class NetworkStartComparison
{
    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var network = "nb" + suffix;
        var plainBridge = "vbp" + suffix;
        var kvmState = Directory.CreateTempSubdirectory("virt-bench-vms-").FullName;
        var netState = Directory.CreateTempSubdirectory("virt-bench-net-").FullName;
        var networks = new NetworkManager(new NetworkOptions { StateDirectory = netState, NftablesTable = "vbench" + suffix }, new FileSystem(), new ProcessRunner());
        var guest = EmbeddedGuest.DefaultDirectory;
        var options = new KvmOptions { StateDirectory = kvmState };
        var vms = new Virt.Kvm.VirtualMachines.KvmVirtualMachineManager(
            options, new ProcessRunner(), new Virt.Kvm.VirtualMachines.QemuCapabilityProbe(new ProcessRunner()), new Virt.Kvm.Host.AcceleratorProbe(new FileSystem()), TimeProvider.System, networkPorts: networks);
        var started = new List<IVirtualMachine>();
        var bridgeMade = false;
        var networkDefined = false;
        var step = "making the plain bridge";
        try
        {
            HostCommand.Run("ip", "link", "add", plainBridge, "type", "bridge");
            bridgeMade = true;
            HostCommand.Run("ip", "link", "set", plainBridge, "up");
            step = $"defining and applying network '{network}'";
            await networks.DefineAsync(new IsolatedNetworkDefinition(network));
            networkDefined = true;
            await networks.ApplyAsync(network);

            step = "creating the VMs";
            var firewall = new NicFirewall
            {
                Rules =
                [
                    new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = ["22"] },
                    new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = ["80"] },
                    new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] },
                ],
            };
            var managed = await vms.CreateAsync(BenchmarkVms.Spec("nbm" + suffix, guest, 256) with { Nics = [VmNic.OnNetwork("net0", network) with { Firewall = firewall }] });
            started.Add(managed);
            var plain = await vms.CreateAsync(BenchmarkVms.Spec("nbp" + suffix, guest, 256) with { Nics = [new VmNic("net0") { Backend = VmNicBackend.Bridge, Bridge = plainBridge }] });
            started.Add(plain);

            step = "the warm-up starts";
            await StartStopAsync(managed);
            await StartStopAsync(plain);
            var managedMs = new List<double>();
            var plainMs = new List<double>();
            for (var i = 0; i < iterations; i++)
            {
                step = $"start {i + 1} of {iterations}";
                plainMs.Add(await StartStopAsync(plain));
                managedMs.Add(await StartStopAsync(managed));
            }

            var managedMedian = BenchmarkVms.Median(managedMs);
            var plainMedian = BenchmarkVms.Median(plainMs);
            Console.WriteLine($"{iterations} alternating starts (StartAsync → running), TCG, 256 MiB, one NIC each");
            Console.WriteLine("| NIC | median (ms) | min (ms) | max (ms) |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine($"| tap on a plain bridge (`VmNicBackend.Bridge`, `Bridge = {plainBridge}`) | {plainMedian:0.0} | {plainMs.Min():0.0} | {plainMs.Max():0.0} |");
            Console.WriteLine($"| managed NIC (`VmNic.OnNetwork`, 3 rules + anti-spoofing) | {managedMedian:0.0} | {managedMs.Min():0.0} | {managedMs.Max():0.0} |");
            Console.WriteLine($"managed − plain: {managedMedian - plainMedian:+0.0;-0.0} ms (target ≤ +5 ms)");
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"network-start benchmark failed at {step}: {ex}");
            return 1;
        }
        finally
        {
            await CleanUpAsync(vms, started, networks, network, networkDefined, plainBridge, bridgeMade);
            Directory.Delete(kvmState, recursive: true);
            Directory.Delete(netState, recursive: true);
        }
    }

    private static async Task<double> StartStopAsync(IVirtualMachine vm)
    {
        var watch = Stopwatch.StartNew();
        await vm.StartAsync();
        var elapsed = watch.Elapsed.TotalMilliseconds;
        await vm.KillAsync();
        return elapsed;
    }

    /// <summary>Each step on its own, so one failure does not leave the rest behind: VMs, the managed network, the plain bridge.</summary>
    private static async Task CleanUpAsync(Virt.Kvm.VirtualMachines.KvmVirtualMachineManager vms, List<IVirtualMachine> created, NetworkManager networks, string network, bool networkDefined, string plainBridge, bool bridgeMade)
    {
        foreach (var vm in created)
        {
            await TryAsync($"removing VM {vm.Name}", async () =>
            {
                if ((await vm.GetStatusAsync()).State is not VmState.Stopped)
                {
                    await vm.KillAsync();
                }

                await vms.DeleteAsync(vm.Name);
                await networks.ReleaseAsync("vm:" + vm.Name);
            });
        }

        await vms.DisposeAsync();
        if (networkDefined)
        {
            await TryAsync($"deleting network '{network}'", () => networks.DeleteAsync(network));
        }

        if (bridgeMade)
        {
            await TryAsync($"deleting bridge {plainBridge}", () =>
            {
                HostCommand.Run("ip", "link", "del", plainBridge);
                return Task.CompletedTask;
            });
        }
    }

    private static async Task TryAsync(string what, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"clean-up: {what} failed: {ex.Message}");
        }
    }
}
