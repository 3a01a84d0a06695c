using Virt.Processes;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.IntegrationTests.Infrastructure;

/// <summary>A storage manager with a private state directory and one pool of the kind a test class asks for.</summary>
internal sealed class PoolFixture : IDisposable
{
    private readonly LoopFilesystem? _filesystem;
    private readonly string _root;

    private readonly CephCluster? _ceph;
    private readonly string? _cephPool;

    private PoolFixture(string kind, CephCluster? ceph)
    {
        _root = Directory.CreateTempSubdirectory("vs-").FullName;
        Options = new StorageOptions { StateDirectory = Path.Combine(_root, "state"), LockTimeout = TimeSpan.FromSeconds(1) };
        Manager = new StorageManager(Options, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        if (kind == "rbd")
        {
            _ceph = ceph;
            _cephPool = ceph!.CreatePool();
            Pool = Manager.DefinePoolAsync(new RbdPoolDefinition("test", Path.Combine(_root, "pool"), ceph.ConfigPath!) { RbdPool = _cephPool }).GetAwaiter().GetResult();
            return;
        }

        string path;
        if (kind == "dir")
        {
            path = Path.Combine(_root, "pool");
        }
        else
        {
            _filesystem = LoopFilesystem.Create(kind == "btrfs" ? "btrfs" : "xfs");
            path = Path.Combine(_filesystem.MountPoint, "pool");
        }

        Pool = Manager.DefinePoolAsync(kind == "btrfs" ? new BtrfsPoolDefinition("test", path) : new DirPoolDefinition("test", path)).GetAwaiter().GetResult();
    }

    public StorageOptions Options { get; }

    public StorageManager Manager { get; }

    public IStoragePool Pool { get; }

    public string Scratch => _root;

    public static PoolFixture Create(string kind, CephCluster? ceph = null)
    {
        HostRequirement.RequireTool("qemu-img", "qemu-utils");
        return new PoolFixture(kind, ceph);
    }

    public void Dispose()
    {
        if (_cephPool is not null)
        {
            _ceph!.DeletePool(_cephPool);
        }

        _filesystem?.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
