using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Virt.Cluster.Membership;
using Virt.Cluster.Store;
using Virt.Clustering;
using Virt.Hosting;

namespace Virt.Cluster.Tests;

public sealed class ClusterOptionsTests
{
    private static ClusterOptions Valid()
    {
        var options = new ClusterOptions { NodeName = "node-a" };
        options.Endpoints.Add("http://192.0.2.10:2379");
        return options;
    }

    [Fact]
    public void Valid_options_pass()
    {
        Assert.True(new ClusterOptionsValidator().Validate(null, Valid()).Succeeded);
    }

    [Theory]
    [InlineData("endpoints", "ClusterOptions.Endpoints is empty")]
    [InlineData("endpoint", "ClusterOptions.Endpoints has 'etcd:2379'")]
    [InlineData("name", "ClusterOptions.NodeName 'a b' is not usable")]
    [InlineData("ttl", "ClusterOptions.LeaseTtl is 00:00:01")]
    [InlineData("ttl-fraction", "ClusterOptions.LeaseTtl is 00:00:02.5000000")]
    [InlineData("prefix", "ClusterOptions.KeyPrefix 'virt' must start and end with '/'")]
    [InlineData("state", "ClusterOptions.StateDirectory 'relative' must be an absolute path")]
    [InlineData("timeout", "ClusterOptions.OperationTimeout is 00:00:00")]
    [InlineData("pickup", "ClusterOptions.DrainPickupTimeout is 00:00:00")]
    public void Each_bad_option_is_named_with_its_fix(string what, string expected)
    {
        var options = Valid();
        switch (what)
        {
            case "endpoints": options.Endpoints.Clear(); break;
            case "endpoint": options.Endpoints.Add("etcd:2379"); break;
            case "name": options.NodeName = "a b"; break;
            case "ttl": options.LeaseTtl = TimeSpan.FromSeconds(1); break;
            case "ttl-fraction": options.LeaseTtl = TimeSpan.FromSeconds(2.5); break;
            case "prefix": options.KeyPrefix = "virt"; break;
            case "state": options.StateDirectory = "relative"; break;
            case "timeout": options.OperationTimeout = TimeSpan.Zero; break;
            case "pickup": options.DrainPickupTimeout = TimeSpan.Zero; break;
        }

        var failure = Assert.Throws<ArgumentException>(() => ClusterOptionsValidator.ThrowIfInvalid(options));
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddCluster_registers_the_manager_named_after_the_host_and_refuses_bad_options_when_resolved()
    {
        var services = new ServiceCollection();
        services.AddVirt().UseHostName("host-7").AddCluster(o => o.Endpoints.Add("http://127.0.0.1:2379"));
        await using (var provider = services.BuildServiceProvider())
        {
            var manager = provider.GetRequiredService<IClusterManager>();
            Assert.Equal("host-7", manager.NodeName);
            Assert.False(manager.HoldsLease);
            Assert.Same(manager, provider.GetRequiredService<ClusterManager>());
        }

        var bad = new ServiceCollection();
        bad.AddVirt().AddCluster();
        await using var badProvider = bad.BuildServiceProvider();
        var refused = Assert.Throws<OptionsValidationException>(() => badProvider.GetRequiredService<IClusterManager>());
        Assert.Contains("ClusterOptions.Endpoints is empty", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_host_probe_reads_meminfo_and_the_QEMU_version()
    {
        var (total, available) = HostCapacityProbe.ReadMemory("MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n");
        Assert.Equal(24576000L * 1024, total);
        Assert.Equal(20000000L * 1024, available);
        Assert.Equal("10.0.2", HostCapacityProbe.ParseQemuVersion("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)\nCopyright (c) 2003-2025"));
        Assert.Equal("7.2.22", HostCapacityProbe.ParseQemuVersion("QEMU emulator version 7.2.22\n"));
        Assert.Null(HostCapacityProbe.ParseQemuVersion("not qemu"));
    }

    [Fact]
    public void A_prefix_range_ends_at_the_next_key_after_every_key_under_it()
    {
        Assert.Equal("/virt0"u8.ToArray(), ClusterKeys.RangeEnd("/virt/"));
        Assert.Equal([0x61, 0x62], ClusterKeys.RangeEnd("ab\u00ff"[..2] + "a")[..2]);
        Assert.True(ClusterNames.IsValid("node-1.example_a"));
        Assert.False(ClusterNames.IsValid("-node"));
        Assert.False(ClusterNames.IsValid(new string('a', 64)));
    }

    [Theory]
    [InlineData("parallelism", "DrainParallelism")]
    [InlineData("address", "ListenAddress 'host-b' is not an IP address")]
    [InlineData("ticket", "TicketLifetime")]
    public void Bad_migration_agent_options_are_refused_when_the_agent_is_made(string what, string expected)
    {
        var options = new ClusterMigrationOptions();
        switch (what)
        {
            case "parallelism": options.DrainParallelism = 0; break;
            case "address": options.ListenAddress = "host-b"; break;
            case "ticket": options.TicketLifetime = TimeSpan.Zero; break;
        }

        var failure = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddClusterHa_refuses_a_node_name_that_is_not_the_hosts()
    {
        var services = new ServiceCollection();
        services.AddVirt().UseHostName("host-7").AddCluster(o =>
        {
            o.Endpoints.Add("http://127.0.0.1:2379");
            o.NodeName = "node-7";
        }).AddClusterHa();
        await using var provider = services.BuildServiceProvider();
        var refused = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<ClusterHaAgent>());
        Assert.Contains("the cluster node name 'node-7' differs from the host's name 'host-7'", refused.Message, StringComparison.Ordinal);
    }
}
