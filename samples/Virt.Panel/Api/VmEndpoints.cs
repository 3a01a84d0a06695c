using System.IO.Abstractions;
using Virt.IO;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Panel.Api;

/// <summary>
/// Create VMs from the panel: the embedded test guest, or a boot disk; always a VNC console on a unix socket.
/// <paramref name="Disk"/> is a storage volume (<c>pool:name</c>); a host file only where <c>Panel:AllowHostPaths</c> is on.
/// </summary>
internal sealed record CreateVmRequest(string Name, int MemoryMiB = 256, int Cpus = 1, bool TestGuest = true, string? Disk = null);

internal static class VmEndpoints
{
    private const int SerialTailBytes = 256 * 1024;

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

        vms.MapPost("/", async (CreateVmRequest request, IVirtualMachineManager manager, PanelOptions options, CancellationToken cancellationToken) =>
        {
            if (request.Disk is { } requested && !VmSpecValidator.IsVolumeId(requested))
            {
                if (!options.AllowHostPaths)
                {
                    return Results.Json(new { error = $"disk '{requested}' of VM '{request.Name}' is not a storage volume (pool:name): the panel attaches host files only when it runs with Panel:AllowHostPaths=true; create a volume in a pool and give pool:name", type = "HostPathRefused" }, statusCode: StatusCodes.Status400BadRequest);
                }

                if (!Path.IsPathFullyQualified(requested))
                {
                    return Results.Json(new { error = $"disk '{requested}' of VM '{request.Name}' is neither a storage volume (pool:name) nor an absolute path", type = "InvalidDisk" }, statusCode: StatusCodes.Status400BadRequest);
                }
            }

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
                await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions()))
                {
                    task.Percent = progress.TotalBytes > 0 ? Math.Min(99, 100.0 * progress.TransferredBytes / progress.TotalBytes) : task.Percent;
                    task.Detail = progress.Status;
                }
            }))).WithSummary("Live-migrate a VM to a new QEMU on this host; returns a task with progress.");

        vms.MapPost("/{name}/exec", async (string name, ExecRequest request, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            if (request.Command is not { Count: > 0 })
            {
                return Results.Json(new { error = $"no command to run in VM '{name}': give the program and its arguments, e.g. [\"cat\", \"/proc/uptime\"]", type = "InvalidCommand" }, statusCode: StatusCodes.Status400BadRequest);
            }

            var vm = await manager.GetAsync(name, cancellationToken);
            var result = await vm.Guest.ExecAsync(request.Command[0], [.. request.Command.Skip(1)], timeout: TimeSpan.FromSeconds(60), cancellationToken: cancellationToken);
            return Results.Ok(new { exitCode = result.ExitCode, signal = result.Signal, stdout = result.StandardOutputText, stderr = result.StandardErrorText, truncated = result.OutputTruncated });
        }).WithSummary("Run a command in a running VM through its guest agent (60 s deadline): exit code, stdout, stderr.");

        vms.MapDelete("/{name}", async (string name, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            await manager.DeleteAsync(name, force: true, cancellationToken);
            return Results.NoContent();
        }).WithSummary("Delete a VM (killed first if it runs).");

        vms.MapGet("/{name}/serial", async (string name, IVirtualMachineManager manager, IFileSystem fileSystem, HttpContext context, CancellationToken cancellationToken) =>
        {
            var vm = await manager.GetAsync(name, cancellationToken);

            // However big the guest made the log, one request reads at most SerialTailBytes of it.
            var tail = await LogTail.ReadAsync(fileSystem, vm.Endpoints.SerialLog, SerialTailBytes, cancellationToken);
            context.Response.Headers["X-Virt-Truncated"] = tail.Truncated ? "true" : "false";
            context.Response.Headers["X-Virt-Log-Size"] = tail.FileBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Text(tail.Text, "text/plain; charset=utf-8");
        }).WithSummary("The end of the serial console's log: at most its last 256 KiB (X-Virt-Truncated: true when there was more; X-Virt-Log-Size: the whole file's size).");
    }
}
