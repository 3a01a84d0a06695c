using System.Globalization;
using System.IO.Abstractions;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;

// Usage (STATE is the manager's state directory, NETNS the namespace it manages, e.g. /run/netns/vt-x):
//   crash STATE NETNS NAME CIDR GATEWAY N [OLDCIDR OLDGATEWAY]
//                                           define a NAT network and apply it, stopping after the journal is written and N link
//                                           operations ran: prints "planned L" (its link operations), then
//                                           "crashed D" (those done) and waits, holding the lock, to be killed; with OLDCIDR,
//                                           the network is first applied on that subnet, and the crash lands mid-change
//   crash-at STATE NETNS NAME CIDR GATEWAY POINT apply|delete
//                                           define a NAT network and apply it (for delete: apply it whole, then delete it),
//                                           stopping at POINT (AfterLinks, AfterFirewall, AfterDhcp: between the steps, the
//                                           journal written): prints "crashed POINT" and waits, holding the lock, to be killed
//   apply STATE NETNS NAME CIDR GATEWAY     print "ready", wait for a line on stdin, define a NAT network and apply it, print "applied"
var manager = new NetworkManager(new NetworkOptions { StateDirectory = args[1], NetworkNamespace = args[2] }, new FileSystem(), new ProcessRunner());
var prefix = args[4][..args[4].LastIndexOf('.')];
var network = new NatNetworkDefinition(args[3], new NetworkSubnet(args[4], args[5]) { DhcpStart = prefix + ".100", DhcpEnd = prefix + ".150" });
switch (args[0])
{
    case "crash":
        if (args.Length > 8)
        {
            var oldPrefix = args[7][..args[7].LastIndexOf('.')];
            await manager.DefineAsync(network with { Ipv4 = new NetworkSubnet(args[7], args[8]) { DhcpStart = oldPrefix + ".100", DhcpEnd = oldPrefix + ".150" } });
            await manager.ApplyAsync(network.Name);
        }

        await manager.DefineAsync(network);
        var planned = (await manager.PlanAsync(network.Name)).Changes.Count(c => c.Layer == NetworkChangeLayer.Netlink);
        await Console.Out.WriteLineAsync($"planned {planned}");
        manager.CrashAfterLinkOperations = int.Parse(args[6], CultureInfo.InvariantCulture);
        manager.AtSimulatedCrash = async done =>
        {
            await Console.Out.WriteLineAsync($"crashed {done}");
            await Console.Out.FlushAsync();
            await Task.Delay(Timeout.Infinite);
        };
        await manager.ApplyAsync(network.Name);
        return 1; // never reached: the parent kills this process inside AtSimulatedCrash

    case "crash-at":
        await manager.DefineAsync(network);
        if (args[7] == "delete")
        {
            await manager.ApplyAsync(network.Name);
        }

        var point = Enum.Parse<ApplyCrashPoint>(args[6]);
        manager.CrashAt = point;
        manager.AtSimulatedCrash = async _ =>
        {
            await Console.Out.WriteLineAsync($"crashed {point}");
            await Console.Out.FlushAsync();
            await Task.Delay(Timeout.Infinite);
        };
        await (args[7] == "delete" ? manager.DeleteAsync(network.Name) : manager.ApplyAsync(network.Name));
        return 1; // never reached: the parent kills this process inside AtSimulatedCrash

    case "apply":
        await Console.Out.WriteLineAsync("ready");
        await Console.Out.FlushAsync();
        await Console.In.ReadLineAsync();
        await manager.DefineAsync(network);
        await manager.ApplyAsync(network.Name);
        await Console.Out.WriteLineAsync("applied");
        return 0;

    default:
        await Console.Error.WriteLineAsync($"unknown mode '{args[0]}': use crash, crash-at or apply");
        return 2;
}
