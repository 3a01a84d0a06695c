using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Virt.Passthrough.Host;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough.Binding;

/// <summary>
/// Carries out plans and releases: the journal first, then per device override → unbind → probe →
/// verify, then each group's viability and <c>/dev/vfio/N</c>; any failure restores every device touched.
/// Restore per device: override to the original driver → unbind → bind the original driver → verify →
/// the original override (cleared when there was none).
/// </summary>
internal sealed class VfioBinder(IFileSystem fileSystem, PassthroughOptions options, PciSysfsReader reader, PassthroughPlanner planner, HostUsageScanner scanner, PassthroughJournal journal, ILogger logger, TimeProvider time)
{
    // How often a probe's outcome is re-read: the kernel gives no event for a driver binding.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    private readonly SysfsWriter _writer = new(fileSystem, options.WriteTimeout, time);

    public async Task<PassthroughBinding> ApplyAsync(PassthroughPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!plan.CanApply)
        {
            throw new PassthroughBlockedException(plan);
        }

        CheckUnchanged(plan);
        cancellationToken.ThrowIfCancellationRequested();

        var record = journal.Read(plan.Owner) ?? new JournalRecord(plan.Owner, []);
        var added = new List<JournalEntry>();
        foreach (var device in plan.Devices.Where(device => record.Devices.All(entry => entry.Address != device.Address.ToString())))
        {
            var entry = new JournalEntry(device.Address.ToString(), device.CurrentDriver, device.CurrentOverride, device.TargetDriver, device.IommuGroup);
            record.Devices.Add(entry);
            added.Add(entry);
        }

        journal.Write(record);
        try
        {
            foreach (var device in plan.Devices)
            {
                foreach (var write in planner.Writes(device))
                {
                    await WriteAsync(write.Device, write.Path, write.Value).ConfigureAwait(false);
                }

                await WaitForDriverAsync(device.Address, device.TargetDriver).ConfigureAwait(false);
            }

            await VerifyGroupsAsync(plan).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is SysfsWriteFailure or PassthroughException or PassthroughTimeoutException)
        {
            var pending = exception is SysfsWriteFailure { TimedOut: true } timedOut ? timedOut.Device.ToString() : null;
            var restored = await RollBackAsync(record, added, pending).ConfigureAwait(false);
            throw Failure(plan.Owner, exception, restored);
        }

        Log.Bound(logger, string.Join(", ", plan.Devices.Select(device => device.Address)), plan.Driver, plan.Owner);
        return ToBinding(record);
    }

    public async Task ReleaseAsync(string owner, CancellationToken cancellationToken)
    {
        PassthroughJournal.ValidateOwner(owner);
        var record = journal.Read(owner);
        if (record is null)
        {
            return;
        }

        if (scanner.HeldVfioGroup(record.Devices.Select(entry => entry.Group).Distinct()) is { } held)
        {
            throw new PassthroughDeviceBusyException(owner, held.Node, held.Holders);
        }

        cancellationToken.ThrowIfCancellationRequested();

        // Restore in the reverse of the bind order: the requested functions first, their siblings last.
        foreach (var entry in Enumerable.Reverse(record.Devices.ToList()))
        {
            try
            {
                await RestoreAsync(entry).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is SysfsWriteFailure or PassthroughException or PassthroughTimeoutException)
            {
                journal.Write(record);
                throw Failure(owner, exception, restored: false, releasing: true);
            }

            record.Devices.Remove(entry);
            journal.Write(record);
        }

        Log.Released(logger, owner);
    }

    public static PassthroughBinding ToBinding(JournalRecord record) => new(
        record.Owner,
        record.Devices.Select(entry => new BoundDevice(PciAddress.Parse(entry.Address), entry.OriginalDriver, entry.OriginalOverride, entry.Driver, entry.Group)).ToList(),
        record.Devices.Select(entry => entry.Group).Distinct().Order().Select(group => "/dev/vfio/" + group.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList());

    private void CheckUnchanged(PassthroughPlan plan)
    {
        foreach (var device in plan.Devices)
        {
            var now = reader.GetDevice(device.Address);
            if (now.Driver != device.CurrentDriver || now.DriverOverride != device.CurrentOverride)
            {
                throw new PassthroughException(VirtErrorKind.Conflict, $"cannot apply the plan for '{plan.Owner}': {device.Address} changed since it was planned (driver {device.CurrentDriver ?? "none"} → {now.Driver ?? "none"}, override {device.CurrentOverride ?? "none"} → {now.DriverOverride ?? "none"}); nothing was written: plan again");
            }
        }
    }

    /// <summary>Puts one device back as the journal says it was. Safe to repeat.</summary>
    private async Task RestoreAsync(JournalEntry entry)
    {
        var address = PciAddress.Parse(entry.Address);
        PciDevice now;
        try
        {
            now = reader.GetDevice(address);
        }
        catch (PciDeviceNotFoundException)
        {
            Log.DeviceGone(logger, address);
            return;
        }

        if (now.Driver != entry.OriginalDriver)
        {
            // Only the original driver may bind from here on, so nothing else grabs the device between the steps.
            await WriteAsync(address, planner.OverridePath(address), (entry.OriginalDriver ?? string.Empty) + "\n").ConfigureAwait(false);
            if (now.Driver is { } current)
            {
                await WriteAsync(address, planner.DriverFile(current, "unbind"), entry.Address).ConfigureAwait(false);
            }

            if (entry.OriginalDriver is { } original)
            {
                await WriteAsync(address, planner.DriverFile(original, "bind"), entry.Address).ConfigureAwait(false);
            }

            await WaitForDriverAsync(address, entry.OriginalDriver).ConfigureAwait(false);
            now = reader.GetDevice(address);
        }

        if (now.DriverOverride != entry.OriginalOverride)
        {
            await WriteAsync(address, planner.OverridePath(address), (entry.OriginalOverride ?? string.Empty) + "\n").ConfigureAwait(false);
        }

        now = reader.GetDevice(address);
        if (now.Driver != entry.OriginalDriver || now.DriverOverride != entry.OriginalOverride)
        {
            throw new PassthroughException($"{address} was not restored: it is on {now.Driver ?? "no driver"} with override {now.DriverOverride ?? "none"}, expected {entry.OriginalDriver ?? "no driver"} with override {entry.OriginalOverride ?? "none"}");
        }
    }

    /// <summary>Restores the devices this apply added (restore is a no-op for those not yet written), newest first.</summary>
    /// <remarks>
    /// A timed-out write is still pending in the kernel (an unbind waits for the holder): that device's
    /// entry stays in the journal, so a release after the holder lets go puts it back on its driver.
    /// </remarks>
    private async Task<bool> RollBackAsync(JournalRecord record, List<JournalEntry> added, string? pending)
    {
        var restored = pending is null;
        foreach (var entry in Enumerable.Reverse(added))
        {
            try
            {
                await RestoreAsync(entry).ConfigureAwait(false);
                if (entry.Address != pending)
                {
                    record.Devices.Remove(entry);
                }
            }
            catch (Exception exception) when (exception is SysfsWriteFailure or PassthroughException or PassthroughTimeoutException)
            {
                Log.RollbackFailed(logger, exception, entry.Address);
                restored = false;
            }
        }

        journal.Write(record);
        return restored;
    }

    private async Task WriteAsync(PciAddress device, string path, string value)
    {
        Log.Write(logger, device, value.TrimEnd('\n'), path);
        await _writer.WriteAsync(device, path, value).ConfigureAwait(false);
    }

    private async Task WaitForDriverAsync(PciAddress address, string? driver)
    {
        var deadline = time.GetUtcNow() + options.ProbeTimeout;
        while (true)
        {
            var now = reader.GetDevice(address);
            if (now.Driver == driver)
            {
                return;
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new PassthroughException($"{address} is on {now.Driver ?? "no driver"} {options.ProbeTimeout.TotalSeconds:0.#} s after the probe, not on {driver ?? "no driver"} (override {now.DriverOverride ?? "none"}): check dmesg for the driver's probe error");
            }

            await Task.Delay(PollInterval, time).ConfigureAwait(false);
        }
    }

    private async Task VerifyGroupsAsync(PassthroughPlan plan)
    {
        var deadline = time.GetUtcNow() + options.ProbeTimeout;
        var groups = reader.ListIommuGroups();
        foreach (var number in plan.Groups)
        {
            var group = groups.FirstOrDefault(candidate => candidate.Number == number);
            if (group is null || !group.IsViable)
            {
                var blocking = group is null ? "the group vanished" : string.Join(", ", group.BlockingMembers.Select(member => $"{member.Address} on {member.Driver}"));
                throw new PassthroughException($"IOMMU group {number} is not viable after binding: {blocking}: every member must be on vfio-pci, pci-stub, pcieport or no driver");
            }

            var node = fileSystem.Path.Combine(options.DevRoot, "vfio", number.ToString(System.Globalization.CultureInfo.InvariantCulture));
            while (!fileSystem.File.Exists(node))
            {
                if (time.GetUtcNow() >= deadline)
                {
                    throw new PassthroughException($"{node} did not appear within {options.ProbeTimeout.TotalSeconds:0.#} s after binding group {number}: is the vfio module loaded?");
                }

                await Task.Delay(PollInterval, time).ConfigureAwait(false);
            }
        }
    }

    private static Exception Failure(string owner, Exception cause, bool restored, bool releasing = false)
    {
        var outcome = releasing
            ? "the devices not yet restored stay in the journal: fix the cause and call ReleaseAsync again"
            : restored ? "every device was put back on its original driver with its original override" : "some devices could not be put back and stay in the journal: fix the cause and call ReleaseAsync";
        var verb = releasing ? "releasing" : "binding";
        return cause switch
        {
            SysfsWriteFailure { TimedOut: true } failure => new PassthroughTimeoutException($"{verb} {failure.Device} for '{owner}': {failure.Message}; {outcome}", failure.Device),
            SysfsWriteFailure failure => new PassthroughWriteException($"{verb} {failure.Device} for '{owner}': {failure.Message}; {outcome}", failure.Device, failure.Path, failure.ErrorName, restored && !releasing, failure),
            PassthroughTimeoutException timeout => new PassthroughTimeoutException($"{verb} for '{owner}': {timeout.Message}; {outcome}", timeout.Device),
            _ => new PassthroughException($"{verb} for '{owner}' failed: {cause.Message}; {outcome}", cause),
        };
    }
}
