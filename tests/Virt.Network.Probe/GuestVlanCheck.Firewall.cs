using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Virt.Network.Interop;
using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.Probe;

// The real nftables firewall on a VLAN-tagged port (the guest loads nf_tables, br_netfilter and conntrack; libnftables
// comes from the host's root): a fourth guest on VLAN 10 whose NIC firewall drops ICMP, allows TCP 8080, rejects
// TCP 8081 and drops the rest coming in, with anti-spoofing; checked with real traffic from another VLAN 10 guest.
internal static partial class GuestVlanCheck
{
    private const int AllowedPort = 8080;
    private const int RejectedPort = 8081;
    private const int UnlistedPort = 8082;
    private const string SpoofedAddress = "192.0.2.25";
    private const string SpoofedMac = "02:00:00:00:00:aa";

    private static readonly Guest Firewalled = new("vg4", "vh4", "vp4", "192.0.2.15", "52:54:00:00:0a:15", 10);

    private static string Scope => $"port:{Firewalled.Owner}/eth0";

    private static NicFirewall FirewalledNic => new()
    {
        Rules =
        [
            new(FirewallDirection.In, FirewallAction.Drop) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] },
            new(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = [Text(AllowedPort)] },
            new(FirewallDirection.In, FirewallAction.Reject) { Protocol = FirewallProtocol.Tcp, DestinationPorts = [Text(RejectedPort)] },
        ],
        DefaultIn = FirewallAction.Drop,
        DefaultOut = FirewallAction.Accept,
        AntiSpoofing = true,
        AllowedAddresses = [Firewalled.Address],
    };

    private static async Task CheckFirewallAsync(NetworkManager manager)
    {
        MakeGuest(Firewalled);
        await manager.PrepareAsync(new NetworkPortRequest(Network, Firewalled.Owner, "eth0", Firewalled.HostEnd, NetworkPortKind.Veth, Firewalled.Mac)
        {
            VlanTag = Firewalled.Tag,
            Firewall = FirewalledNic,
        }).ConfigureAwait(false);
        await manager.ConnectAsync(Firewalled.Owner, "eth0").ConfigureAwait(false);

        // The fingerprint the plan compares is read back from the kernel's table, so an empty plan means the ruleset is in force.
        var plan = await manager.PlanAsync(Network).ConfigureAwait(false);
        Check(plan.IsEmpty, "plan with the firewalled port is empty (nftables fingerprint read back)" + (plan.IsEmpty ? string.Empty : ": " + string.Join("; ", plan.Changes.Select(c => $"{c.Operation} {c.Object}"))));
        Check(Shell.Try("nft", "list", "chain", "bridge", "virt", $"port-{Firewalled.HostEnd}-in").ExitCode == 0, $"firewall: table bridge virt has the chains of {Firewalled.HostEnd}");

        using var listeners = new CancellationTokenSource();
        var sockets = await Task.WhenAll(new[] { AllowedPort, RejectedPort, UnlistedPort }.Select(port => ListenAsync(Firewalled, port))).ConfigureAwait(false);
        var serving = sockets.Select(socket => ServeAsync(socket, listeners.Token)).ToList();
        var g1 = Guests[0];
        Check(Connects(Firewalled, "127.0.0.1", AllowedPort), "firewall: the listeners in vg4 answer locally");
        Check(!Ping(g1, Firewalled.Address), "firewall: ICMP echo-request to the VLAN 10 port is dropped (g1 -> g4)");
        Check(Connects(g1, Firewalled.Address, AllowedPort), $"firewall: TCP {AllowedPort} is allowed and its replies come back (g1 -> g4)");
        Check(!Connects(g1, Firewalled.Address, RejectedPort), $"firewall: TCP {RejectedPort} (a reject rule) is blocked on the bridge");
        Check(!Connects(g1, Firewalled.Address, UnlistedPort), $"firewall: TCP {UnlistedPort} falls to the default-in drop");
        Check(Ping(Firewalled, g1.Address), "firewall: conntrack through br_netfilter lets the echo reply back in past the default-in drop (g4 -> g1)");

        var counters = await manager.GetFirewallCountersAsync(Network).ConfigureAwait(false);
        Check(Packets(counters, "0") >= 1, $"firewall: the ICMP rule's counter moved ({Packets(counters, "0")} packets)");
        Check(Packets(counters, "2") >= 1, $"firewall: the reject rule's counter moved ({Packets(counters, "2")} packets)");
        Check(Packets(counters, "default-in") >= 1, $"firewall: the default-in counter moved ({Packets(counters, "default-in")} packets)");

        Shell.InNamespace(Firewalled.Namespace, "ip", "addr", "flush", "dev", Firewalled.GuestEnd);
        Shell.InNamespace(Firewalled.Namespace, "ip", "addr", "add", SpoofedAddress + "/24", "dev", Firewalled.GuestEnd);
        Check(!Ping(Firewalled, g1.Address), $"anti-spoofing: g4 sending from {SpoofedAddress} cannot reach g1");
        counters = await manager.GetFirewallCountersAsync(Network).ConfigureAwait(false);
        Check(Packets(counters, "anti-spoofing:ipv4") + Packets(counters, "anti-spoofing:arp") >= 1, "anti-spoofing: the IPv4 or ARP check counted the spoofed packets");

        Shell.InNamespace(Firewalled.Namespace, "ip", "addr", "flush", "dev", Firewalled.GuestEnd);
        Shell.InNamespace(Firewalled.Namespace, "ip", "addr", "add", Firewalled.Address + "/24", "dev", Firewalled.GuestEnd);
        Shell.InNamespace(Firewalled.Namespace, "ip", "link", "set", Firewalled.GuestEnd, "address", SpoofedMac);
        Check(!Ping(Firewalled, g1.Address), $"anti-spoofing: g4 sending from MAC {SpoofedMac} cannot reach g1");
        counters = await manager.GetFirewallCountersAsync(Network).ConfigureAwait(false);
        Check(Packets(counters, "anti-spoofing:mac") >= 1, "anti-spoofing: the MAC check counted the spoofed frames");

        Shell.InNamespace(Firewalled.Namespace, "ip", "link", "set", Firewalled.GuestEnd, "address", Firewalled.Mac);
        Check(Ping(Firewalled, g1.Address), "anti-spoofing: with its own MAC and address g4 reaches g1 again");

        await listeners.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(serving).ConfigureAwait(false);
        ReportBridgeFamilyKernel();

        await manager.ReleaseAsync(Firewalled.Owner).ConfigureAwait(false);
        Check(!Shell.Run("nft", "list", "table", "bridge", "virt").Contains(Firewalled.HostEnd, StringComparison.Ordinal), $"firewall: release removes the chains of {Firewalled.HostEnd}");
        Shell.Run("ip", "netns", "delete", Firewalled.Namespace);
    }

    /// <summary>
    /// The SDK compiles a reject rule to a drop on the bridge (checked above). Whether this kernel could do better is printed
    /// for the record, not checked: nft_reject_bridge is loaded, but the kernel accepts reject only in the bridge family's
    /// prerouting and input hooks, not in forward, where the port chains run; ct works in the bridge family with
    /// nf_conntrack_bridge. Tried in a scratch namespace, so nothing of the SDK's is touched.
    /// </summary>
    private static void ReportBridgeFamilyKernel()
    {
        const string scratch = "vnote";
        Shell.Run("ip", "netns", "add", scratch);
        try
        {
            Shell.InNamespace(scratch, "nft", "add", "table", "bridge", "probe");
            Shell.InNamespace(scratch, "nft", "add", "chain", "bridge", "probe", "forward", "{ type filter hook forward priority 0; }");
            Shell.InNamespace(scratch, "nft", "add", "chain", "bridge", "probe", "input", "{ type filter hook input priority 0; }");
            string Answer(string chain, string rule) =>
                Shell.Try(["ip", "netns", "exec", scratch, "nft", "add", "rule", "bridge", "probe", chain, .. rule.Split(' ')]) is (0, _) ? "accepted" : "refused";
            Console.WriteLine(
                $"vlan note: bridge family on this kernel: reject in forward {Answer("forward", "tcp dport 9 reject with tcp reset")}, " +
                $"reject in input {Answer("input", "tcp dport 9 reject with tcp reset")}, ct state in forward {Answer("forward", "ct state established accept")}");
        }
        finally
        {
            Shell.Run("ip", "netns", "delete", scratch);
        }
    }

    private static long Packets(IReadOnlyList<FirewallRuleCounter> counters, string handle) =>
        counters.Where(counter => counter.Scope == Scope && counter.Handle == handle).Sum(counter => counter.Packets);

    /// <summary>Whether a TCP connection from <paramref name="from"/>'s namespace reaches a listener and reads its greeting in 3 s.</summary>
    private static bool Connects(Guest from, string address, int port)
    {
        using var socket = NamespaceThread.RunAsync(NamespacePath(from), () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).GetAwaiter().GetResult();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            socket.ConnectAsync(IPAddress.Parse(address), port, timeout.Token).AsTask().GetAwaiter().GetResult();
            var buffer = new byte[16];
            var read = socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).AsTask().GetAwaiter().GetResult();
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("hello", StringComparison.Ordinal);
        }
        catch (Exception failure) when (failure is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A listening socket on <paramref name="port"/> opened in <paramref name="guest"/>'s namespace, where it stays.</summary>
    private static Task<Socket> ListenAsync(Guest guest, int port) => NamespaceThread.RunAsync(NamespacePath(guest), () =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Any, port));
        socket.Listen();
        return socket;
    });

    /// <summary>Greets every connection to <paramref name="listener"/> until <paramref name="stop"/>, then closes it.</summary>
    private static async Task ServeAsync(Socket listener, CancellationToken stop)
    {
        using (listener)
        {
            try
            {
                while (true)
                {
                    using var connection = await listener.AcceptAsync(stop).ConfigureAwait(false);
                    await connection.SendAsync("hello\n"u8.ToArray(), SocketFlags.None, stop).ConfigureAwait(false);
                    connection.Shutdown(SocketShutdown.Both);
                }
            }
            catch (OperationCanceledException)
            {
                // The checks are done.
            }
        }
    }

    private static string NamespacePath(Guest guest) => "/run/netns/" + guest.Namespace;

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);
}
