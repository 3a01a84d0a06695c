using System.Net;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Dhcp;

/// <summary>The SDK's dnsmasq, for real: inside a namespace of its own, serving a client namespace over a bridge.</summary>
public sealed class DnsmasqHostTests
{
    [Fact]
    public async Task AClientGetsALeaseFromTheRangeAndTheLeaseIsReadBack()
    {
        using var lab = DhcpLab.Create();
        await lab.Host.EnsureAsync(DhcpLab.Instance(), TestContext.Current.CancellationToken);

        var address = lab.RequestLease("cli");

        var bytes = address.GetAddressBytes();
        Assert.True(bytes[..3].SequenceEqual(new byte[] { 192, 0, 2 }) && bytes[3] is >= 100 and <= 200, $"{address} is outside the range 192.0.2.100–200");
        var lease = await lab.WaitForLeaseAsync(DhcpLab.ClientMac);
        Assert.Equal(address.ToString(), lease.Address);
        Assert.Equal("cli", lease.Hostname);
        Assert.True(lease.Expires > DateTimeOffset.UtcNow, $"the lease expires {lease.Expires}");
    }

    [Fact]
    public async Task AReservationIsHonouredAndItsNameResolvesOnTheGateway()
    {
        using var lab = DhcpLab.Create();
        await lab.Host.EnsureAsync(DhcpLab.Instance(new DhcpReservation(DhcpLab.ClientMac, "192.0.2.10", "web")), TestContext.Current.CancellationToken);

        Assert.Equal(IPAddress.Parse("192.0.2.10"), lab.RequestLease("web"));
        Assert.Equal("192.0.2.10", (await lab.WaitForLeaseAsync(DhcpLab.ClientMac)).Address);

        lab.Client.Exec("ip", "addr", "add", "192.0.2.10/24", "dev", DhcpLab.ClientInterface);
        var answer = lab.Client.Exec("busybox", "nslookup", "web.lab", "192.0.2.1");
        Assert.Contains("192.0.2.10", answer, StringComparison.Ordinal);

        // Nothing is forwarded: a name outside the network gets no address (dnsmasq has no upstream to ask).
        var (exitCode, outside) = lab.Client.TryExec("busybox", "nslookup", "example.com", "192.0.2.1");
        Assert.True(exitCode != 0, $"example.com resolved through the network's dnsmasq: {outside}");
    }

    [Fact]
    public async Task AReservationAddedWhileRunningIsReadOnSighupAndAConfigurationChangeRestarts()
    {
        using var lab = DhcpLab.Create();
        await lab.Host.EnsureAsync(DhcpLab.Instance(), TestContext.Current.CancellationToken);
        var first = await lab.Host.InspectAsync(DhcpLab.Instance(), TestContext.Current.CancellationToken);
        Assert.True(first.Running && first.ConfigurationMatches, $"after EnsureAsync: {first}");

        var reserved = DhcpLab.Instance(new DhcpReservation(DhcpLab.ClientMac, "192.0.2.42", "db"));
        Assert.False((await lab.Host.InspectAsync(reserved, TestContext.Current.CancellationToken)).ConfigurationMatches);
        await lab.Host.EnsureAsync(reserved, TestContext.Current.CancellationToken);

        var reloaded = await lab.Host.InspectAsync(reserved, TestContext.Current.CancellationToken);
        Assert.Equal(first.ProcessId, reloaded.ProcessId);
        Assert.Equal(IPAddress.Parse("192.0.2.42"), lab.RequestLease("db"));
        lab.Client.Exec("ip", "addr", "add", "192.0.2.42/24", "dev", DhcpLab.ClientInterface);
        Assert.Contains("192.0.2.42", lab.Client.Exec("busybox", "nslookup", "db.lab", "192.0.2.1"), StringComparison.Ordinal);

        var longer = reserved with { LeaseTime = TimeSpan.FromHours(2) };
        await lab.Host.EnsureAsync(longer, TestContext.Current.CancellationToken);
        var restarted = await lab.Host.InspectAsync(longer, TestContext.Current.CancellationToken);
        Assert.True(restarted.Running && restarted.ConfigurationMatches, $"after the restart: {restarted}");
        Assert.NotEqual(first.ProcessId, restarted.ProcessId);
        Assert.False(DhcpLab.IsAlive(first.ProcessId), $"the first dnsmasq (pid {first.ProcessId}) still runs");
        Assert.Equal("192.0.2.42", (await lab.WaitForLeaseAsync(DhcpLab.ClientMac)).Address);
    }

    [Fact]
    public async Task WithIpv6TheClientConfiguresAnAddressFromTheRouterAdvertisements()
    {
        using var lab = DhcpLab.Create();
        lab.Server.Exec("ip", "addr", "add", "2001:db8:1::1/64", "dev", "br0");
        var instance = DhcpLab.Instance() with { Ipv6Subnet = IPNetwork.Parse("2001:db8:1::/64"), Ipv6Gateway = IPAddress.Parse("2001:db8:1::1") };
        await lab.Host.EnsureAsync(instance, TestContext.Current.CancellationToken);

        // The client forms its SLAAC address once dnsmasq's router advertisement arrives (after both ends' DAD): wait for it.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string addresses;
        while (!(addresses = lab.Client.Exec("ip", "-6", "addr", "show", "dev", DhcpLab.ClientInterface, "scope", "global")).Contains("2001:db8:1:", StringComparison.Ordinal))
        {
            Assert.False(deadline.IsCancellationRequested, $"no address from 2001:db8:1::/64 on the client in 30 s: {addresses}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task StopLeavesNoDnsmasqAndNoFiles()
    {
        using var lab = DhcpLab.Create();
        await lab.Host.EnsureAsync(DhcpLab.Instance(), TestContext.Current.CancellationToken);
        var pid = (await lab.Host.InspectAsync(DhcpLab.Instance(), TestContext.Current.CancellationToken)).ProcessId;
        Assert.True(DhcpLab.IsAlive(pid), $"dnsmasq (pid {pid}) does not run");
        Assert.True(await lab.Host.IsRunningAsync("lab", TestContext.Current.CancellationToken));

        await lab.Host.StopAsync("lab", removeLeases: true, TestContext.Current.CancellationToken);

        Assert.False(DhcpLab.IsAlive(pid), $"dnsmasq (pid {pid}) still runs after StopAsync");
        Assert.False(await lab.Host.IsRunningAsync("lab", TestContext.Current.CancellationToken));
        Assert.False(Directory.Exists(lab.Host.FilesOf("lab").Directory));
    }

    [Fact]
    public async Task AStartThatFailsNamesDnsmasqsReason()
    {
        using var lab = DhcpLab.Create();
        var error = await Assert.ThrowsAsync<NetworkException>(() => lab.Host.EnsureAsync(DhcpLab.Instance() with { Bridge = "no-such-br" }, TestContext.Current.CancellationToken));
        Assert.Contains("network 'lab'", error.Message, StringComparison.Ordinal);
        Assert.Contains("no-such-br", error.Message, StringComparison.Ordinal);
        Assert.Empty(Infrastructure.TestNamespace.TryRun("ip", "netns", "pids", lab.Server.Name).Output.Trim());
    }
}
