namespace Virt.Passthrough.Sysfs;

/// <summary>No PCI function has that address on this host.</summary>
public sealed class PciDeviceNotFoundException : VirtException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="address">The address looked up.</param>
    public PciDeviceNotFoundException(PciAddress address)
        : base($"PCI device {address} does not exist on this host: list the devices (lspci -D) and check the address")
    {
        Address = address;
    }

    /// <summary>The address looked up.</summary>
    public PciAddress Address { get; }
}
