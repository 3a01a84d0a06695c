using Virt.Containers;
using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Network.IntegrationTests.EndToEnd;

/// <summary>
/// A NAT network on a host namespace with an uplink to an "outside" namespace that has no route back: the test guest
/// and a container get DHCP leases from the SDK's dnsmasq (the container its static reservation), resolve each other's
/// names on the gateway, and reach the outside only through the masquerade.
/// </summary>
public sealed class NatNetworkTests
{
    private const string ContainerMac = "02:00:c0:00:02:32";

    // A udhcpc hook that applies the lease (busybox's has none in the guest or the container); printf, since the script
    // travels in a -fw_cfg string where commas are separators.
    private const string LeaseHook = "printf '#!/bin/sh\\n[ \"$1\" = bound ] || exit 0\\nip addr add $ip/$mask dev $interface\\n[ -n \"$router\" ] && ip route add default via $router\\nexit 0\\n' > /tmp/lease.sh; chmod +x /tmp/lease.sh";

    [Fact(Timeout = 300_000)]
    public async Task Guest_and_container_get_leases_resolve_each_other_and_reach_the_outside_through_masquerade()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var lab = PlatformLab.Create();
        var host = lab.Host("nat-h");
        var outside = lab.Host("nat-o");
        PlatformLab.Cable(host, "up0", "198.51.100.1/24", outside, "out0", "198.51.100.2/24");

        var networks = lab.Networks(host);
        await networks.DefineAsync(new NatNetworkDefinition("lan", new NetworkSubnet("192.0.2.0/24", "192.0.2.1")
        {
            DhcpStart = "192.0.2.100",
            DhcpEnd = "192.0.2.150",
            Reservations = [new DhcpReservation(ContainerMac, "192.0.2.50", "ct1")],
        })
        { Uplink = "up0", DnsDomain = "lab" }, ct);
        await networks.ApplyAsync("lan", ct);

        // Without the SDK's masquerade the outside could not answer: it has no route to 192.0.2.0/24.
        Assert.DoesNotContain("192.0.2", outside.Exec("ip", "route"), StringComparison.Ordinal);

        var vms = lab.Vms(networks);
        var script = LeaseHook + "; ip link set eth0 up; udhcpc -i eth0 -n -q -t 20 -x hostname:guest1 -s /tmp/lease.sh; ip -4 addr show eth0; "
            + "if ping -c 1 -W 5 198.51.100.2 >/dev/null 2>&1; then echo NAT-PING-OK; fi; "
            + "echo NAT-LOOKUP; nslookup ct1.lab 192.0.2.1; echo NAT-DONE";
        var vm = await vms.CreateAsync(PlatformLab.Guest("natvm", script, VmNic.OnNetwork("net0", "lan")), ct);
        await vm.StartAsync(ct);

        var containers = lab.Containers(networks);
        var container = await containers.CreateAsync(PlatformLab.Busybox("natct", ContainerNic.OnNetwork("lan") with { MacAddress = ContainerMac, Firewall = new NicFirewall() }), ct);
        await container.StartAsync(cancellationToken: ct);
        var hook = await PlatformLab.ExecAsync(container, "sh", "-c", LeaseHook);
        Assert.True(hook.ExitCode == 0, hook.Output);
        var lease = await PlatformLab.ExecAsync(container, "udhcpc", "-i", "eth0", "-n", "-q", "-t", "20", "-s", "/tmp/lease.sh");
        Assert.True(lease.ExitCode == 0, "container DHCP: " + lease.Output);
        Assert.Contains("192.0.2.50/24", (await PlatformLab.ExecAsync(container, "ip", "-4", "addr", "show", "eth0")).Output, StringComparison.Ordinal);

        var serial = await PlatformLab.WaitForSerialAsync(vm, "NAT-DONE", TimeSpan.FromMinutes(3));
        Assert.Contains("NAT-PING-OK", serial, StringComparison.Ordinal);

        // The reservation's name resolves on the gateway for the guest (dnsmasq serves reservations by name).
        Assert.Contains("192.0.2.50", serial[serial.LastIndexOf("NAT-LOOKUP", StringComparison.Ordinal)..], StringComparison.Ordinal);
        var leases = await networks.GetLeasesAsync("lan", ct);
        var guestMac = Assert.Single(await networks.ListPortsAsync("lan", ct), p => p.Request.Owner == "vm:natvm").Request.MacAddress;
        var guestLease = Assert.Single(leases, l => l.MacAddress == guestMac);
        Assert.Equal("guest1", guestLease.Hostname);
        Assert.StartsWith("192.0.2.1", guestLease.Address, StringComparison.Ordinal);
        Assert.Contains(leases, l => l.MacAddress == ContainerMac && l.Address == "192.0.2.50");

        // Names on the gateway's DNS: the container finds the guest by the name it sent, the guest the container by its reservation.
        var lookup = await PlatformLab.ExecAsync(container, "nslookup", "guest1.lab", "192.0.2.1");
        Assert.Contains(guestLease.Address, lookup.Output, StringComparison.Ordinal);
        var outbound = await PlatformLab.ExecAsync(container, "ping", "-c", "1", "-W", "5", "198.51.100.2");
        Assert.True(outbound.ExitCode == 0, "container → outside through the masquerade: " + outbound.Output);

        // Anti-spoofing on the container's NIC: another source address goes nowhere.
        await PlatformLab.ExecAsync(container, "ip", "addr", "add", "192.0.2.77/24", "dev", "eth0");
        var spoofed = await PlatformLab.ExecAsync(container, "ping", "-c", "1", "-W", "2", "-I", "192.0.2.77", "192.0.2.1");
        Assert.NotEqual(0, spoofed.ExitCode);
        var counters = await networks.GetFirewallCountersAsync("lan", ct);
        Assert.Contains(counters, c => c.Handle.StartsWith("anti-spoofing", StringComparison.Ordinal) && c.Packets > 0);
    }
}
