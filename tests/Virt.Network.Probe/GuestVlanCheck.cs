using System.IO.Abstractions;
using System.Text.Json.Nodes;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Network.Probe;

/// <summary>
/// A VLAN network on a kernel with bridge vlan_filtering and 802.1Q (the test guest): three "guests" (namespaces) on
/// veth ports tagged 10, 10 and 20, and a trunk uplink whose far end, in a fourth namespace, carries an 802.1Q device for
/// VLAN 10; then a fourth guest on VLAN 10 behind the SDK's real nftables firewall (GuestVlanCheck.Firewall.cs).
/// Prints "vlan ok: …" or "vlan FAIL: …" per check and "VLAN-VERDICT PASS|FAIL" at the end.
/// </summary>
internal static partial class GuestVlanCheck
{
    private const string Network = "vl";
    private const string Trunk = "vtrunk";
    private const string TrunkPeer = "vtrunkp";
    private const string TrunkAddress = "192.0.2.14";

    private static readonly Guest[] Guests =
    [
        new("vg1", "vh1", "vp1", "192.0.2.11", "52:54:00:00:0a:11", 10),
        new("vg2", "vh2", "vp2", "192.0.2.12", "52:54:00:00:0a:12", 10),
        new("vg3", "vh3", "vp3", "192.0.2.13", "52:54:00:00:0a:13", 20),
    ];

    private static int failures;

    public static async Task<int> RunAsync(string stateDirectory)
    {
        try
        {
            await RunChecksAsync(stateDirectory).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Fail($"the scenario stopped: {exception.GetType().Name}: {exception.Message}");
        }

        Console.WriteLine(failures == 0 ? "VLAN-VERDICT PASS" : $"VLAN-VERDICT FAIL ({failures} failed)");
        return failures == 0 ? 0 : 1;
    }

    private static async Task RunChecksAsync(string stateDirectory)
    {
        if (!Directory.Exists("/sys/module/nf_tables") || !Directory.Exists("/sys/module/br_netfilter"))
        {
            throw new InvalidOperationException("the guest kernel has no nf_tables or br_netfilter loaded: run 'load-modules netfilter' in the guest before the chroot (a cached test guest without that command predates scripts/build-guest.sh's module sets: run scripts/build-guest.sh)");
        }

        Directory.CreateDirectory("/run/netns");
        MakeTrunkPeer();
        foreach (var guest in Guests)
        {
            MakeGuest(guest);
        }

        // Every layer is the real one: netlink, and nftables through the host root's libnftables on the guest's nf_tables.
        var manager = new NetworkManager(new NetworkOptions { StateDirectory = stateDirectory }, new FileSystem(), new ProcessRunner());

        // No TrunkVlans: the trunk carries every VLAN a port uses.
        await manager.DefineAsync(new VlanNetworkDefinition(Network) { Uplink = Trunk }).ConfigureAwait(false);
        await manager.ApplyAsync(Network).ConfigureAwait(false);
        var bridge = new VlanNetworkDefinition(Network).EffectiveBridgeName;
        Check(Shell.Run("ip", "-d", "link", "show", bridge).Contains("vlan_filtering 1", StringComparison.Ordinal), $"bridge {bridge} made with vlan_filtering 1");
        Check((await manager.PlanAsync(Network).ConfigureAwait(false)).IsEmpty, "plan after apply is empty");

        foreach (var guest in Guests)
        {
            await manager.PrepareAsync(new NetworkPortRequest(Network, guest.Owner, "eth0", guest.HostEnd, NetworkPortKind.Veth, guest.Mac) { VlanTag = guest.Tag }).ConfigureAwait(false);
            await manager.ConnectAsync(guest.Owner, "eth0").ConfigureAwait(false);
        }

        var plan = await manager.PlanAsync(Network).ConfigureAwait(false);
        Check(plan.IsEmpty, "plan with the ports connected is empty" + (plan.IsEmpty ? string.Empty : ": " + string.Join("; ", plan.Changes.Select(c => $"{c.Operation} {c.Object} {c.Detail}"))));

        var vlans = PortVlans();
        foreach (var guest in Guests)
        {
            var port = vlans.GetValueOrDefault(guest.HostEnd) ?? [];
            Check(port.Count == 1 && port[0] == new PortVlan(guest.Tag, true, true), $"port {guest.HostEnd} has only VLAN {guest.Tag}, pvid and untagged (has {Describe(port)})");
        }

        var trunk = vlans.GetValueOrDefault(Trunk) ?? [];
        Check(trunk.Contains(new PortVlan(10, false, false)) && trunk.Contains(new PortVlan(20, false, false)), $"trunk {Trunk} carries VLANs 10 and 20 tagged (has {Describe(trunk)})");

        Check(Ping(Guests[0], Guests[1].Address), "same tag reaches (g1 -> g2, VLAN 10)");
        Check(Ping(Guests[1], Guests[0].Address), "same tag reaches (g2 -> g1, VLAN 10)");
        Check(!Ping(Guests[0], Guests[2].Address), "other tag isolated (g1 -> g3, VLAN 10 vs 20)");
        Check(!Ping(Guests[2], Guests[1].Address), "other tag isolated (g3 -> g2, VLAN 20 vs 10)");
        Check(Ping(Guests[0], TrunkAddress), "trunk carries VLAN 10 tagged (g1 -> 802.1Q device on the trunk's far end)");
        Check(!Ping(Guests[2], TrunkAddress), "trunk keeps VLAN 20 off VLAN 10 (g3 -> the far end's VLAN 10 device)");

        await CheckFirewallAsync(manager).ConfigureAwait(false);

        await manager.ReleaseAsync(Guests[2].Owner).ConfigureAwait(false);
        vlans = PortVlans();
        Check(!vlans.ContainsKey(Guests[2].HostEnd) && Shell.Try("ip", "link", "show", Guests[2].HostEnd).ExitCode != 0, $"release removes port {Guests[2].HostEnd} and its VLANs");
        Check(vlans.GetValueOrDefault(Guests[0].HostEnd) is [{ Vlan: 10, Pvid: true, Untagged: true }], $"release leaves {Guests[0].HostEnd} on VLAN 10");
        Check(Ping(Guests[0], Guests[1].Address), "same tag still reaches after another port's release");
        Check((await manager.PlanAsync(Network).ConfigureAwait(false)).IsEmpty, "plan after release is empty");

        await manager.ReleaseAsync(Guests[0].Owner).ConfigureAwait(false);
        await manager.ReleaseAsync(Guests[1].Owner).ConfigureAwait(false);
        await manager.DeleteAsync(Network).ConfigureAwait(false);
        Check(Shell.Try("ip", "link", "show", bridge).ExitCode != 0 && Shell.Try("ip", "link", "show", Trunk).ExitCode == 0, $"delete removes {bridge} and leaves the uplink {Trunk}, which it did not make");
        Check(!Shell.Run("nft", "list", "tables").Contains("virt", StringComparison.Ordinal), "delete leaves no virt table in nftables");
    }

    // The trunk: a veth whose host end is the uplink, the far end in its own namespace with an 802.1Q device for VLAN 10.
    private static void MakeTrunkPeer()
    {
        Shell.Run("ip", "netns", "add", "vtr");
        Shell.Run("ip", "link", "add", Trunk, "type", "veth", "peer", "name", TrunkPeer, "netns", "vtr");
        Shell.InNamespace("vtr", "ip", "link", "add", "link", TrunkPeer, "name", TrunkPeer + ".10", "type", "vlan", "id", "10");
        Shell.InNamespace("vtr", "ip", "addr", "add", TrunkAddress + "/24", "dev", TrunkPeer + ".10");
        Shell.InNamespace("vtr", "ip", "link", "set", TrunkPeer, "up");
        Shell.InNamespace("vtr", "ip", "link", "set", TrunkPeer + ".10", "up");
    }

    private static void MakeGuest(Guest guest)
    {
        Shell.Run("ip", "netns", "add", guest.Namespace);
        Shell.Run("ip", "link", "add", guest.HostEnd, "type", "veth", "peer", "name", guest.GuestEnd, "address", guest.Mac, "netns", guest.Namespace);
        Shell.InNamespace(guest.Namespace, "ip", "addr", "add", guest.Address + "/24", "dev", guest.GuestEnd);
        Shell.InNamespace(guest.Namespace, "ip", "link", "set", guest.GuestEnd, "up");
        Shell.InNamespace(guest.Namespace, "ip", "link", "set", "lo", "up");
    }

    private static bool Ping(Guest from, string address) =>
        Shell.Try("ip", "netns", "exec", from.Namespace, "ping", "-c", "3", "-i", "0.2", "-W", "2", address).ExitCode == 0;

    /// <summary>Each bridge port's VLANs as <c>bridge -j vlan show</c> lists them.</summary>
    private static Dictionary<string, List<PortVlan>> PortVlans()
    {
        var result = new Dictionary<string, List<PortVlan>>(StringComparer.Ordinal);
        foreach (var port in JsonNode.Parse(Shell.Run("bridge", "-j", "vlan", "show"))!.AsArray())
        {
            var flags = (JsonArray? array) => array?.Select(f => f!.GetValue<string>()).ToList() ?? [];
            result[port!["ifname"]!.GetValue<string>()] = [.. port["vlans"]!.AsArray().Select(v =>
            {
                var set = flags(v!["flags"]?.AsArray());
                return new PortVlan(v["vlan"]!.GetValue<int>(), set.Contains("PVID"), set.Contains("Egress Untagged"));
            })];
        }

        return result;
    }

    private static string Describe(List<PortVlan> vlans) =>
        vlans.Count == 0 ? "none" : string.Join(", ", vlans.Select(v => $"{v.Vlan}{(v.Pvid ? " pvid" : string.Empty)}{(v.Untagged ? " untagged" : string.Empty)}"));

    private static void Check(bool passed, string what)
    {
        if (passed)
        {
            Console.WriteLine("vlan ok: " + what);
        }
        else
        {
            Fail(what);
        }
    }

    private static void Fail(string what)
    {
        failures++;
        Console.WriteLine("vlan FAIL: " + what);
    }

    private sealed record Guest(string Namespace, string HostEnd, string GuestEnd, string Address, string Mac, int Tag)
    {
        public string Owner => "ct:" + Namespace;
    }

    private sealed record PortVlan(int Vlan, bool Pvid, bool Untagged);
}
