using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.Tools;

namespace Virt.Storage.Pools;

/// <summary>What every pool of a manager shares: options, the host's files and tools, and the log.</summary>
internal sealed class StorageContext(StorageOptions options, IFileSystem fileSystem, IProcessRunner processes, ILogger logger)
{
    public StorageOptions Options { get; } = options;

    /// <summary>Every file and directory the pools touch (images, markers, locks, definitions) goes through this.</summary>
    public IFileSystem Files { get; } = fileSystem;

    public IProcessRunner Processes { get; } = processes;

    public QemuImg QemuImg { get; } = new(processes, options.QemuImgPath);

    public ILogger Logger { get; } = logger;

    /// <summary>
    /// Whether <see cref="Files"/> is the host's own file system, so that its paths name real files a syscall
    /// can open (statx, the FICLONE ioctl). An in-memory file system (a test's) has no such files.
    /// </summary>
    public bool FilesAreOnHost => Files is FileSystem;
}
