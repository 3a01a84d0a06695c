using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.IntegrationTests.Infrastructure;

/// <summary>A storage manager with a private state directory and one pool of the kind a test class asks for.</summary>
internal sealed class PoolFixture : IDisposable
{
    private readonly LoopFilesystem? _filesystem;
    private readonly string _root;

    private PoolFixture(string kind)
    {
        _root = Directory.CreateTempSubdirectory("vs-").FullName;
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

        Options = new StorageOptions { StateDirectory = Path.Combine(_root, "state"), LockTimeout = TimeSpan.FromSeconds(1) };
        Manager = new StorageManager(Options, new ProcessRunner());
        Pool = Manager.DefinePoolAsync(new StoragePoolDefinition("test", kind == "btrfs" ? "btrfs" : "dir", path)).GetAwaiter().GetResult();
    }

    public StorageOptions Options { get; }

    public StorageManager Manager { get; }

    public IStoragePool Pool { get; }

    public string Scratch => _root;

    public static PoolFixture Create(string kind)
    {
        Host.Require("qemu-img", "qemu-utils");
        return new PoolFixture(kind);
    }

    public void Dispose()
    {
        _filesystem?.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
