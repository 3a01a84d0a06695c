using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Panel.Api;

/// <summary>Create VMs from the panel: the embedded test guest, or a boot disk; always a VNC console on a unix socket.</summary>
internal sealed record CreateVmRequest(string Name, int MemoryMiB = 256, int Cpus = 1, bool TestGuest = true, string? Disk = null);

internal static class VmEndpoints
{
    public static void Map(WebApplication app)
    {
        var vms = app.MapGroup("/api/vms").WithTags("VMs");
        vms.MapGet("/", async (IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            var statuses = new List<VmStatus>();
            foreach (var vm in await manager.ListAsync(cancellationToken))
            {
                statuses.Add(await vm.GetStatusAsync(cancellationToken));
            }

            return statuses;
        }).WithSummary("Every VM with its state.");

        vms.MapGet("/{name}", async (string name, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            var vm = await manager.GetAsync(name, cancellationToken);
            return new { status = await vm.GetStatusAsync(cancellationToken), spec = vm.Spec, endpoints = vm.Endpoints };
        }).WithSummary("One VM: status, spec and console endpoints.");

        vms.MapPost("/", async (CreateVmRequest request, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            var spec = request.TestGuest ? EmbeddedGuest.CreateSpec(request.Name, memoryMiB: request.MemoryMiB) : new VmSpec(request.Name) { Memory = new VmMemory { SizeMiB = request.MemoryMiB } };
            spec = spec with
            {
                Cpu = new VmCpu { Cores = request.Cpus },
                Disks = request.Disk is { } disk ? [.. spec.Disks, new VmDisk(request.TestGuest ? "data" : "root", disk)] : spec.Disks,
                Vnc = new VmVnc { UnixSocket = true },
            };
            var vm = await manager.CreateAsync(spec, cancellationToken);
            return Results.Created($"/api/vms/{vm.Name}", await vm.GetStatusAsync(cancellationToken));
        }).WithSummary("Create a VM (not started).");

        vms.MapPost("/{name}/start", (string name, IVirtualMachineManager manager, PanelTasks tasks) =>
            Results.Accepted(value: tasks.Start($"start VM {name}", async task =>
            {
                var vm = await manager.GetAsync(name);
                await vm.StartAsync();
                task.Detail = "running";
            }))).WithSummary("Start a VM; returns a task to follow.");

        vms.MapPost("/{name}/stop", async (string name, bool? force, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            var vm = await manager.GetAsync(name, cancellationToken);
            await vm.ShutdownAsync(force == true ? TimeSpan.Zero : TimeSpan.FromSeconds(30), killAfterTimeout: true, cancellationToken);
            return await vm.GetStatusAsync(cancellationToken);
        }).WithSummary("Shut a VM down (ACPI, then kill after 30 s; force=true kills at once).");

        vms.MapPost("/{name}/migrate", (string name, IVirtualMachineManager manager, PanelTasks tasks) =>
            Results.Accepted(value: tasks.Start($"migrate VM {name}", async task =>
            {
                var vm = await manager.GetAsync(name);
                await foreach (var progress in vm.MigrateAsync(new VmMigrationOptions()))
                {
                    task.Percent = progress.TotalBytes > 0 ? Math.Min(99, 100.0 * progress.TransferredBytes / progress.TotalBytes) : task.Percent;
                    task.Detail = progress.Status;
                }
            }))).WithSummary("Live-migrate a VM to a new QEMU on this host; returns a task with progress.");

        vms.MapDelete("/{name}", async (string name, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            await manager.DeleteAsync(name, force: true, cancellationToken);
            return Results.NoContent();
        }).WithSummary("Delete a VM (killed first if it runs).");

        vms.MapGet("/{name}/serial", async (string name, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            var vm = await manager.GetAsync(name, cancellationToken);
            var log = File.Exists(vm.Endpoints.SerialLog) ? await File.ReadAllTextAsync(vm.Endpoints.SerialLog, cancellationToken) : string.Empty;
            return Results.Text(log.Length > 65536 ? log[^65536..] : log);
        }).WithSummary("The serial console's log (the last 64 KiB).");
    }
}
