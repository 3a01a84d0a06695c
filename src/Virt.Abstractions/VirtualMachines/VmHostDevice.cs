namespace Virt.VirtualMachines;

/// <summary>
/// A host PCI device passed to the VM through VFIO. The device (with every function of its slot when
/// <see cref="AllFunctions"/>) is bound to vfio-pci before QEMU starts and given back to its host driver
/// after QEMU is gone — stop, crash, failed start, or a re-attach that finds QEMU dead. Needs
/// <c>AddPassthrough()</c> (an <see cref="Virt.Passthrough.IHostDeviceBinder"/>).
/// </summary>
/// <param name="Address">The host address, <c>DDDD:BB:SS.F</c> as <c>lspci -D</c> shows it.</param>
public sealed record VmHostDevice(string Address)
{
    /// <summary>Pass every function of the slot (a GPU and its audio), keeping their function numbers in the guest.</summary>
    public bool AllFunctions { get; init; }

    /// <summary>Make it the guest's legacy VGA (<c>x-vga=on</c>): for GPUs driven by the guest's firmware console.</summary>
    public bool XVga { get; init; }

    /// <summary>Whether the guest sees the device's option ROM (<c>rombar</c>); <see langword="null"/> for QEMU's default.</summary>
    public bool? RomBar { get; init; }

    /// <summary>An option ROM file to show instead of the device's own (<c>romfile</c>): an absolute path.</summary>
    public string? RomFile { get; init; }

    /// <summary>Put the device behind a PCIe root port of its own (q35), as a physical card sits. Default true.</summary>
    public bool RootPort { get; init; } = true;
}
