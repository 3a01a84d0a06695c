using System.Globalization;
using System.IO.Abstractions;
using Virt.Passthrough.Binding;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough.Sriov;

/// <summary>
/// SR-IOV virtual functions of a physical function: list them (<c>virtfnN</c> links) and set how many
/// exist (<c>sriov_numvfs</c>, through 0 when changing a non-zero count, with
/// <c>sriov_drivers_autoprobe</c> set first so VFs meant for VFIO get no host driver).
/// </summary>
internal sealed class SriovController(IFileSystem fileSystem, PassthroughOptions options, PciSysfsReader reader, PassthroughJournal journal, TimeProvider time)
{
    private readonly SysfsWriter _writer = new(fileSystem, options.WriteTimeout, time);

    public IReadOnlyList<PciDevice> ListVirtualFunctions(PciAddress physicalFunction)
    {
        var pf = PhysicalFunction(physicalFunction);
        var directory = DeviceDirectory(pf.Address);
        return fileSystem.Directory.GetFileSystemEntries(directory, "virtfn*")
            .Select(link => (Index: int.Parse(fileSystem.Path.GetFileName(link)["virtfn".Length..], CultureInfo.InvariantCulture), Target: reader.Files.LinkName(link)))
            .Where(link => PciAddress.TryParse(link.Target, out _))
            .OrderBy(link => link.Index)
            .Select(link => reader.GetDevice(PciAddress.Parse(link.Target!)))
            .ToList();
    }

    public async Task<IReadOnlyList<PciDevice>> SetCountAsync(PciAddress physicalFunction, int count, bool autoprobe, CancellationToken cancellationToken)
    {
        var pf = PhysicalFunction(physicalFunction);
        if (count < 0 || count > pf.SriovTotalVfs)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{pf.Address} supports 0 to {pf.SriovTotalVfs} virtual functions (sriov_totalvfs)");
        }

        if (pf.Driver is null)
        {
            throw new PassthroughException(VirtErrorKind.Refused, $"cannot set the VF count of {pf.Address}: it has no driver, and the PF's driver creates the VFs: bind its host driver (e.g. ixgbe, mlx5_core) first");
        }

        var owners = journal.Owners();
        var owned = ListVirtualFunctions(pf.Address).Select(vf => (vf.Address, Owner: owners.GetValueOrDefault(vf.Address))).FirstOrDefault(vf => vf.Owner is not null);
        if (owned.Owner is not null && count != pf.SriovNumVfs)
        {
            throw new PassthroughException(VirtErrorKind.Conflict, $"cannot change the VF count of {pf.Address}: its VF {owned.Address} is bound for '{owned.Owner}': release '{owned.Owner}' first");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var directory = DeviceDirectory(pf.Address);
        try
        {
            if (pf.SriovNumVfs is > 0 && count != pf.SriovNumVfs)
            {
                // The kernel refuses a new non-zero count while VFs exist (EBUSY): go through 0.
                await _writer.WriteAsync(pf.Address, fileSystem.Path.Combine(directory, "sriov_numvfs"), "0").ConfigureAwait(false);
            }

            await _writer.WriteAsync(pf.Address, fileSystem.Path.Combine(directory, "sriov_drivers_autoprobe"), autoprobe ? "1" : "0").ConfigureAwait(false);
            if (count != 0 || pf.SriovNumVfs != 0)
            {
                await _writer.WriteAsync(pf.Address, fileSystem.Path.Combine(directory, "sriov_numvfs"), count.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            }
        }
        catch (SysfsWriteFailure failure)
        {
            throw new PassthroughWriteException($"setting {pf.Address} to {count} VFs: {failure.Message}", pf.Address, failure.Path, failure.ErrorName, hostRestored: false, failure);
        }

        var deadline = time.GetUtcNow() + options.ProbeTimeout;
        while (true)
        {
            var vfs = ListVirtualFunctions(pf.Address);
            if (vfs.Count == count)
            {
                return vfs;
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new PassthroughException($"{pf.Address} shows {vfs.Count} VFs {options.ProbeTimeout.TotalSeconds:0.#} s after asking for {count}: check dmesg for the PF driver's error");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), time, cancellationToken).ConfigureAwait(false);
        }
    }

    private PciDevice PhysicalFunction(PciAddress address)
    {
        var device = reader.GetDevice(address);
        return device.SriovTotalVfs is null
            ? throw new PassthroughException(VirtErrorKind.InvalidInput, $"{address} is not an SR-IOV physical function (it has no sriov_totalvfs){(device.PhysicalFunction is { } pf ? $"; it is a VF of {pf}" : string.Empty)}")
            : device;
    }

    private string DeviceDirectory(PciAddress address) => reader.DeviceDirectory(address);
}
