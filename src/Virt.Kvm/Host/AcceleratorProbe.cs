using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Virt.Kvm.Host;

/// <summary>
/// Decides whether KVM really works on this host or QEMU must fall back to TCG. <c>/dev/kvm</c>
/// existing is not enough: under nested PVM (<c>/sys/module/kvm_pvm</c>) the device opens and QMP
/// reports KVM enabled, yet stock guest kernels do not boot; and without a <c>vmx</c>/<c>svm</c> CPU
/// flag there is no hardware virtualization to use.
/// </summary>
public sealed class AcceleratorProbe
{
    private const string KvmDevice = "/dev/kvm";
    private const string PvmModule = "/sys/module/kvm_pvm";
    private const string CpuInfo = "/proc/cpuinfo";

    private readonly IFileSystem _fileSystem;
    private readonly ILogger _logger;

    /// <summary>Creates a probe.</summary>
    /// <param name="fileSystem">The host's file system (a fake in tests).</param>
    /// <param name="loggerFactory">Where to log the decision; optional.</param>
    public AcceleratorProbe(IFileSystem fileSystem, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        _fileSystem = fileSystem;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AcceleratorProbe>();
    }

    /// <summary>Probes the host.</summary>
    /// <returns>KVM when it is usable, otherwise TCG, with the reason.</returns>
    public AcceleratorChoice Detect()
    {
        var choice = Decide();
        Log.AcceleratorChosen(_logger, choice.QemuName, choice.Reason);
        return choice;
    }

    private AcceleratorChoice Decide()
    {
        if (!_fileSystem.File.Exists(KvmDevice))
        {
            return new(AcceleratorKind.Tcg, $"{KvmDevice} does not exist (no KVM module loaded, or inside a container without the device)");
        }

        if (_fileSystem.Directory.Exists(PvmModule))
        {
            return new(AcceleratorKind.Tcg, $"{KvmDevice} is provided by nested PVM ({PvmModule} exists), where stock guest kernels do not boot");
        }

        if (!HasVirtualizationFlag(out var flagReason))
        {
            return new(AcceleratorKind.Tcg, flagReason);
        }

        try
        {
            using var device = _fileSystem.FileStream.New(KvmDevice, FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return new(AcceleratorKind.Tcg, $"{KvmDevice} cannot be opened read-write ({ex.Message}); add the user to the 'kvm' group");
        }

        return new(AcceleratorKind.Kvm, $"{KvmDevice} opens read-write and the CPU has {flagReason}");
    }

    private bool HasVirtualizationFlag(out string reason)
    {
        if (!_fileSystem.File.Exists(CpuInfo))
        {
            reason = $"{CpuInfo} is missing, so hardware virtualization cannot be confirmed";
            return false;
        }

        foreach (var line in _fileSystem.File.ReadLines(CpuInfo))
        {
            if (!line.StartsWith("flags", StringComparison.Ordinal))
            {
                continue;
            }

            var flags = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (flags.Contains("vmx"))
            {
                reason = "the vmx (Intel VT-x) flag";
                return true;
            }

            if (flags.Contains("svm"))
            {
                reason = "the svm (AMD-V) flag";
                return true;
            }

            reason = "the CPU shows neither the vmx nor the svm flag (no hardware virtualization exposed to this host)";
            return false;
        }

        reason = $"{CpuInfo} lists no CPU flags";
        return false;
    }
}
