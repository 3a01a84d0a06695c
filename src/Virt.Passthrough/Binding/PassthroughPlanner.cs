using System.IO.Abstractions;
using System.Text.RegularExpressions;
using Virt.Passthrough.Host;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough.Binding;

/// <summary>
/// Builds a plan read-only: expands slots to their functions, classifies every member of the groups
/// involved, finds what the host itself uses, and lists the sysfs writes of the safe sequence.
/// </summary>
internal sealed partial class PassthroughPlanner(IFileSystem fileSystem, PassthroughOptions options, PciSysfsReader reader, HostUsageScanner scanner, PassthroughJournal journal)
{
    public PassthroughPlan Plan(IReadOnlyList<PciAddress> requested, PassthroughPlanOptions planOptions)
    {
        ArgumentNullException.ThrowIfNull(requested);
        ArgumentNullException.ThrowIfNull(planOptions);
        PassthroughJournal.ValidateOwner(planOptions.Owner);
        if (requested.Count == 0)
        {
            throw new ArgumentException($"no devices given for '{planOptions.Owner}': name at least one PCI address", nameof(requested));
        }

        if (!DriverPattern().IsMatch(planOptions.Driver))
        {
            throw new ArgumentException($"driver '{planOptions.Driver}' is not a driver name (letters, digits, '_', '-', '.')", nameof(planOptions));
        }

        var (allDevices, allGroups) = reader.ListDevicesAndGroups();
        var devices = allDevices.ToDictionary(device => device.Address);
        foreach (var address in requested)
        {
            if (!devices.ContainsKey(address))
            {
                throw new PciDeviceNotFoundException(address);
            }
        }

        var groups = allGroups.ToDictionary(group => group.Number);
        if (groups.Count == 0)
        {
            throw new IommuUnavailableException(requested[0]);
        }

        if (!fileSystem.Directory.Exists(fileSystem.Path.Combine(options.SysfsRoot, "bus", "pci", "drivers", planOptions.Driver)))
        {
            throw new VfioUnavailableException(requested[0], planOptions.Driver);
        }

        var owners = journal.Owners();
        var planned = new Dictionary<PciAddress, (PciDevice Device, PlannedDeviceRole Role, string Reason)>();
        foreach (var address in requested.Distinct())
        {
            planned[address] = (devices[address], PlannedDeviceRole.Target, "requested");
        }

        if (planOptions.AllFunctions)
        {
            foreach (var address in requested.Distinct())
            {
                foreach (var sibling in devices.Values.Where(device => device.Address != address && device.Address.WithFunction(0) == address.WithFunction(0) && !planned.ContainsKey(device.Address)))
                {
                    planned[sibling.Address] = (sibling, PlannedDeviceRole.SiblingFunction, $"function {sibling.Address.Function} of the requested slot {address.WithFunction(0)}");
                }
            }
        }

        var blockers = new List<PassthroughBlocker>();
        foreach (var (device, _, _) in planned.Values.ToList())
        {
            if (device.IommuGroup is not { } number || !groups.TryGetValue(number, out var group))
            {
                throw new IommuUnavailableException(device.Address, groups.Count);
            }

            foreach (var member in group.Members.Where(member => !planned.ContainsKey(member.Address)))
            {
                if (IsBridge(member))
                {
                    continue;
                }

                if (owners.GetValueOrDefault(member.Address) is { } holder && holder != planOptions.Owner)
                {
                    // A group can be opened by one user at a time: a member held for someone else blocks it.
                    if (blockers.All(blocker => blocker.Device != member.Address))
                    {
                        blockers.Add(new PassthroughBlocker(member.Address, "device.owned", $"shares IOMMU group {number} with {device.Address} and is bound for '{holder}'", $"release '{holder}' first"));
                    }

                    continue;
                }

                if (IommuGroup.IsVfioSafe(member.Driver))
                {
                    continue;
                }

                if (planOptions.IncludeGroupMembers)
                {
                    planned[member.Address] = (member, PlannedDeviceRole.GroupMember, $"shares IOMMU group {number} with {device.Address}");
                }
                else if (blockers.All(blocker => blocker.Device != member.Address))
                {
                    blockers.Add(new PassthroughBlocker(member.Address, "group.member", $"shares IOMMU group {number} with {device.Address} and is on {member.Driver}; the whole group must leave the host", $"add {member.Address} to the request, or set IncludeGroupMembers"));
                }
            }
        }

        var usage = scanner.Read();
        foreach (var (device, _, _) in planned.Values)
        {
            if (IsBridge(device))
            {
                blockers.Add(new PassthroughBlocker(device.Address, "device.bridge", "it is a PCI bridge or port, which VFIO cannot assign", "pass the devices behind it instead"));
            }

            if (owners.GetValueOrDefault(device.Address) is { } owner && owner != planOptions.Owner)
            {
                blockers.Add(new PassthroughBlocker(device.Address, "device.owned", $"it is bound for '{owner}'", $"release '{owner}' first"));
            }

            if (!planOptions.AllowHostCritical)
            {
                blockers.AddRange(scanner.Findings(device, usage).Select(finding => new PassthroughBlocker(device.Address, finding.Code, finding.Reason, finding.Fix)));
            }
        }

        // Group members, then sibling functions, then the requested functions; within a slot the higher functions first.
        var ordered = planned.Values
            .OrderByDescending(entry => entry.Role)
            .ThenBy(entry => entry.Device.Address.WithFunction(0).ToString(), StringComparer.Ordinal)
            .ThenByDescending(entry => entry.Device.Address.Function)
            .Select(entry => new PlannedDevice(entry.Device.Address, entry.Role, entry.Reason, entry.Device.Driver, entry.Device.DriverOverride, entry.Device.IommuGroup!.Value, planOptions.Driver))
            .ToList();
        return new PassthroughPlan(
            planOptions.Owner,
            planOptions.Driver,
            ordered,
            ordered.Select(device => device.IommuGroup).Distinct().Order().ToList(),
            ordered.SelectMany(Writes).ToList(),
            blockers);
    }

    /// <summary>The safe sequence for one device: override first so the host driver cannot grab it back, unbind, probe.</summary>
    public IEnumerable<PlannedWrite> Writes(PlannedDevice device)
    {
        if (device.AlreadyBound)
        {
            yield break;
        }

        yield return new PlannedWrite(device.Address, OverridePath(device.Address), device.TargetDriver + "\n", $"only {device.TargetDriver} may bind it from now on");
        if (device.CurrentDriver is { } current)
        {
            yield return new PlannedWrite(device.Address, DriverFile(current, "unbind"), device.Address.ToString(), $"release it from {current}");
        }

        yield return new PlannedWrite(device.Address, ProbePath, device.Address.ToString(), $"probe: the override lands it on {device.TargetDriver}");
    }

    public string OverridePath(PciAddress address) => fileSystem.Path.Combine(reader.DeviceDirectory(address), "driver_override");

    public string DriverFile(string driver, string file) => fileSystem.Path.Combine(options.SysfsRoot, "bus", "pci", "drivers", driver, file);

    public string ProbePath => fileSystem.Path.Combine(options.SysfsRoot, "bus", "pci", "drivers_probe");

    private bool IsBridge(PciDevice device) =>
        device.ClassAndSubclass == 0x0604 || device.Driver == "pcieport" || fileSystem.Directory.Exists(fileSystem.Path.Combine(reader.DeviceDirectory(device.Address), "pci_bus"));

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex DriverPattern();
}
