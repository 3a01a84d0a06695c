using Microsoft.Extensions.Logging;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;

namespace Virt.Kvm.VirtualMachines;

/// <summary>What every VM of a manager shares: options, probes, the tap helper, the clock, logging, and the optional storage, passthrough and network backends.</summary>
internal sealed record VmEnvironment(
    KvmOptions Options,
    QemuCapabilityProbe Capabilities,
    AcceleratorProbe Accelerators,
    TapDevices Taps,
    TimeProvider Time,
    ILoggerFactory LoggerFactory,
    Virt.Processes.IProcessRunner Processes,
    Virt.Storage.IVolumeResolver? Volumes = null,
    Virt.Passthrough.IHostDeviceBinder? HostDevices = null,
    Virt.Networking.INetworkPorts? NetworkPorts = null)
{
    /// <summary>Where the VM's state files are written (through <see cref="Virt.IO.StateFile"/>): the host's file system.</summary>
    public System.IO.Abstractions.IFileSystem FileSystem { get; init; } = new System.IO.Abstractions.FileSystem();

    /// <summary>How QEMU processes are spawned, identified, signalled and reaped: the host's processes, a fake in unit tests.</summary>
    public IQemuHost Qemu { get; init; } = QemuHost.Real;

    /// <summary>This host's name: the destination a migration ticket names, the holder of cross-host volume locks.</summary>
    public string HostName { get; init; } = Environment.MachineName;

    /// <summary>Asked before every start (the cluster's, when registered); null: every start may go ahead.</summary>
    public Virt.Clustering.IGuestStartGate? StartGate { get; init; }

    /// <summary>
    /// Removes a VM from the manager (its directory and its catalog entry) once it lives on another host, or never
    /// arrived here; set by the manager.
    /// </summary>
    public Func<KvmVirtualMachine, Task> Forget { get; init; } = _ => Task.CompletedTask;
}
