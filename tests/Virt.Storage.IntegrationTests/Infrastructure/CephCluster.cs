using Virt.Storage.IntegrationTests.Infrastructure;

[assembly: AssemblyFixture(typeof(CephCluster))]

namespace Virt.Storage.IntegrationTests.Infrastructure;

/// <summary>
/// A real single-node Ceph cluster on 127.0.0.1 (scripts/ceph-cluster.sh: one mon, one mgr, one bluestore
/// OSD on a sparse file, all under one temp directory), started once for the test assembly and stopped
/// — by the pid files it wrote — at its end. Each test gets a Ceph pool of its own.
/// </summary>
public sealed class CephCluster : IDisposable
{
    private readonly string? _directory;

    public CephCluster()
    {
        if (!File.Exists("/usr/bin/ceph-mon"))
        {
            return;
        }

        _directory = "/tmp/vs-ceph-" + Guid.NewGuid().ToString("N")[..8];
        var started = DateTime.UtcNow;
        ConfigPath = Host.Run("bash", Script, "start", _directory).Trim().Split('\n')[^1];
        StartSeconds = (DateTime.UtcNow - started).TotalSeconds;
    }

    /// <summary>The cluster's ceph.conf, or null where Ceph is not installed.</summary>
    public string? ConfigPath { get; }

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
    }
}
