using Microsoft.Extensions.Logging;
using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.Tools;

namespace Virt.Storage.Pools;

/// <summary>What every pool of a manager shares: options, the host tools and the log.</summary>
internal sealed class StorageContext(StorageOptions options, IProcessRunner processes, ILogger logger)
{
    public StorageOptions Options { get; } = options;

    public IProcessRunner Processes { get; } = processes;

    public QemuImg QemuImg { get; } = new(processes, options.QemuImgPath);

    public ILogger Logger { get; } = logger;
}
