using Virt.Storage.IntegrationTests.Infrastructure;

[assembly: AssemblyFixture(typeof(CephCluster))]

namespace Virt.Storage.IntegrationTests.Infrastructure;

/// <summary>
/// A real single-node Ceph cluster (scripts/ceph-cluster.sh: one mon, one mgr, one bluestore OSD on a sparse file, all
/// under one temp directory), started once for the test assembly and stopped — by the pid files it wrote — at its end.
/// Each test gets a Ceph pool of its own.
/// </summary>
/// <remarks>
/// The daemons bind <see cref="Address"/>, an address of 198.51.100.0/24 (TEST-NET-2) that the fixture puts on the
/// root namespace's <c>lo</c> and removes at its end, rather than 127.0.0.1: a network namespace's 127.0.0.1 is its
/// own, so the hosts of a HostLab (tests/Virt.Tests.ChildManager/Lab) could not reach a cluster there. Lab hosts route
/// 198.51.100.0/24 via the root link (HostLab.ServicesNetwork, from their 203.0.113.N), so their Ceph traffic crosses
/// their link like a real host's. Measured on the test machines: no <c>dummy</c> link type ("Unknown device type"), so
/// <c>lo</c> carries the address (a packet for it that arrives on another link is delivered: the local table has it);
/// rp_filter is 0 (all, default), and both ends' reverse path is the link the packet came in on (the root link's
/// connected 203.0.113.0/24; the host's route to 198.51.100.0/24), so strict rp_filter passes it too. Without root (no
/// address can be added) the cluster binds 127.0.0.1 and lab hosts cannot reach it.
/// </remarks>
public sealed class CephCluster : IDisposable
{
    private readonly string? _directory;
    private readonly bool _addressAdded;

    public CephCluster()
    {
        if (!File.Exists("/usr/bin/ceph-mon"))
        {
            return;
        }

        _directory = "/tmp/vs-ceph-" + Guid.NewGuid().ToString("N")[..8];
        (Address, _addressAdded) = AddAddress();
        var started = DateTime.UtcNow;
        try
        {
            ConfigPath = Host.Run("bash", Script, "start", _directory, Address).Trim().Split('\n')[^1];
        }
        catch
        {
            Dispose();
            throw;
        }

        StartSeconds = (DateTime.UtcNow - started).TotalSeconds;
    }

    /// <summary>The cluster's ceph.conf, or null where Ceph is not installed.</summary>
    public string? ConfigPath { get; }

    /// <summary>The address the cluster's daemons bind (198.51.100.N, or 127.0.0.1 where none could be added).</summary>
    public string Address { get; } = "127.0.0.1";

    /// <summary>How long the cluster took to serve RBD.</summary>
    public double StartSeconds { get; }

    private static string Script
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "scripts", "ceph-cluster.sh")))
            {
                directory = directory.Parent;
            }

            return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("scripts/ceph-cluster.sh not found above the test binaries"), "scripts", "ceph-cluster.sh");
        }
    }

    /// <summary>A new Ceph pool for one test.</summary>
    public string CreatePool()
    {
        HostRequirement.RequireTool("ceph-mon", "ceph-mon ceph-mgr ceph-osd ceph-common");
        var pool = "t" + Guid.NewGuid().ToString("N")[..8];
        Host.Run("ceph", "-c", ConfigPath!, "osd", "pool", "create", pool, "8", "8");
        Host.Run("rbd", "-c", ConfigPath!, "pool", "init", pool);
        return pool;
    }

    public void DeletePool(string pool) =>
        Host.Run("ceph", "-c", ConfigPath!, "osd", "pool", "delete", pool, pool, "--yes-i-really-really-mean-it");

    public void Dispose()
    {
        if (_directory is not null)
        {
            Host.Run("bash", Script, "stop", _directory);
            Directory.Delete(_directory, recursive: true);
        }

        if (_addressAdded)
        {
            Host.Run("ip", "addr", "del", Address + "/32", "dev", "lo");
        }
    }

    /// <summary>Puts a free 198.51.100.N/32 on the root namespace's lo (another suite's cluster may hold one).</summary>
    private static (string Address, bool Added) AddAddress()
    {
        if (Environment.UserName != "root")
        {
            return ("127.0.0.1", false);
        }

        foreach (var last in Enumerable.Range(1, 253).OrderBy(_ => Random.Shared.Next()).Take(20))
        {
            var address = $"198.51.100.{last}";
            try
            {
                Host.Run("ip", "addr", "add", address + "/32", "dev", "lo");
                return (address, true);
            }
            catch (InvalidOperationException taken) when (taken.Message.Contains("File exists", StringComparison.Ordinal))
            {
                // In use by another cluster of a suite running beside this one.
            }
        }

        return ("127.0.0.1", false);
    }
}
