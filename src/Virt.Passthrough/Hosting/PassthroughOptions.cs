namespace Virt.Passthrough.Hosting;

/// <summary>Options of the passthrough backend.</summary>
public sealed class PassthroughOptions
{
    /// <summary>Where sysfs is mounted. Default <c>/sys</c>; a fake kernel's root in tests.</summary>
    public string SysfsRoot { get; set; } = "/sys";

    /// <summary>Where procfs is mounted (mounts, open files, network). Default <c>/proc</c>.</summary>
    public string ProcRoot { get; set; } = "/proc";

    /// <summary>Where device nodes are (<c>/dev/vfio</c>, <c>/dev/kvm</c>). Default <c>/dev</c>.</summary>
    public string DevRoot { get; set; } = "/dev";

    /// <summary>
    /// Where the journal of bindings lives: one file per owner, written before the first sysfs write, so
    /// that a release after a crash of the host application restores the original drivers.
    /// Default <c>/var/lib/virt/passthrough</c>.
    /// </summary>
    public string StateDirectory { get; set; } = "/var/lib/virt/passthrough";

    /// <summary>The system's pci.ids for vendor and device names. Default <c>/usr/share/misc/pci.ids</c>.</summary>
    public string PciIdsPath { get; set; } = "/usr/share/misc/pci.ids";

    /// <summary>How long to wait for another process's change to the bindings (the state directory's lock). Default 30 s.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one sysfs write may take (an unbind blocks while a process holds the device). Default 10 s.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a device may take to appear on its new driver after a probe. Default 5 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
