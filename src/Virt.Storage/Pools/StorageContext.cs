using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.Tools;

namespace Virt.Storage.Pools;

/// <summary>What every pool of a manager shares: options and the host tools.</summary>
internal sealed class StorageContext(StorageOptions options, IProcessRunner processes)
{
    public StorageOptions Options { get; } = options;

    public IProcessRunner Processes { get; } = processes;

    public QemuImg QemuImg { get; } = new(processes, options.QemuImgPath);
}
