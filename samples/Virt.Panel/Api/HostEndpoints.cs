using Virt.Passthrough;
using Virt.Storage;

namespace Virt.Panel.Api;

internal sealed record CreateVolumeRequest(string Name, long SizeBytes);

/// <summary>Storage pools and volumes, PCI devices and groups, the readiness report, tasks.</summary>
internal static class HostEndpoints
{
    public static void Map(WebApplication app)
    {
        var storage = app.MapGroup("/api/storage").WithTags("Storage");
        storage.MapGet("/pools", async (IStorageManager manager, CancellationToken cancellationToken) =>
            (await manager.ListPoolsAsync(cancellationToken)).Select(pool => pool.Definition).ToList()).WithSummary("Every storage pool.");
        storage.MapGet("/pools/{pool}/volumes", async (string pool, IStorageManager manager, CancellationToken cancellationToken) =>
            (await (await manager.GetPoolAsync(pool, cancellationToken)).ListVolumesAsync(cancellationToken)).Select(Volume).ToList()).WithSummary("The volumes of a pool.");
        storage.MapPost("/pools/{pool}/volumes", async (string pool, CreateVolumeRequest request, IStorageManager manager, CancellationToken cancellationToken) =>
        {
            var volume = await (await manager.GetPoolAsync(pool, cancellationToken)).CreateVolumeAsync(new VolumeSpec(request.Name, request.SizeBytes), cancellationToken);
            return Results.Created($"/api/storage/pools/{pool}/volumes/{request.Name}", Volume(volume));
        }).WithSummary("Create a volume.");

        var pci = app.MapGroup("/api/pci").WithTags("PCI");
        pci.MapGet("/devices", (IPassthroughManager manager) => manager.ListDevices().Select(device => new
        {
            address = device.Address.ToString(),
            classCode = device.ClassCode.ToString("x6", System.Globalization.CultureInfo.InvariantCulture),
            ids = $"{device.VendorId:x4}:{device.DeviceId:x4}",
            device.Driver,
            device.DriverOverride,
            device.IommuGroup,
            device.IsBootVga,
            name = $"{device.VendorName} {device.DeviceName}".Trim(),
        }).ToList()).WithSummary("PCI devices from sysfs.");
        pci.MapGet("/groups", (IPassthroughManager manager) => manager.ListIommuGroups().Select(group => new
        {
            group.Number,
            group.IsViable,
            members = group.Members.Select(member => new { address = member.Address.ToString(), member.Driver }).ToList(),
        }).ToList()).WithSummary("IOMMU groups and their viability.");
        pci.MapGet("/bindings", (IPassthroughManager manager) => manager.ListBindings().Select(binding => new
        {
            binding.Owner,
            devices = binding.Devices.Select(device => new { address = device.Address.ToString(), device.OriginalDriver, device.Driver }).ToList(),
            binding.GroupDevices,
        }).ToList()).WithSummary("Devices bound to VFIO, by owner.");
        app.MapGet("/api/host/readiness", (IPassthroughManager manager) => manager.CheckReadiness()).WithTags("Host").WithSummary("The passthrough readiness report.");

        var tasks = app.MapGroup("/api/tasks").WithTags("Tasks");
        tasks.MapGet("/", (PanelTasks registry) => registry.List()).WithSummary("Recent long-running tasks with progress.");
        tasks.MapGet("/{id}", (string id, PanelTasks registry) => registry.Get(id) is { } task ? Results.Ok(task) : Results.NotFound()).WithSummary("One task.");
    }

    private static object Volume(VolumeInfo volume) => new
    {
        id = volume.Id.ToString(),
        format = volume.Format.ToString(),
        volume.CapacityBytes,
        volume.AllocationBytes,
        backingChain = volume.BackingChain.Select(id => id.ToString()).ToList(),
        volume.Snapshots,
    };
}
