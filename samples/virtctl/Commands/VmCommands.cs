using Virt.Kvm.Testing;
using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Virt.Ctl.Infrastructure;
using Virt.Kvm.VirtualMachines;
using Virt.Samples.HostToHost;
using Virt.VirtualMachines;

namespace Virt.Ctl.Commands;

internal class VmSettings : GlobalSettings
{
    [CommandArgument(0, "<name>")]
    [Description("The VM's name.")]
    public string Name { get; set; } = string.Empty;
}

[Description("List the VMs with their state.")]
internal sealed class VmListCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var statuses = new List<VmStatus>();
        foreach (var vm in await host.Vms.ListAsync(cancellationToken))
        {
            statuses.Add(await vm.GetStatusAsync(cancellationToken));
        }

        Output.Table(settings, statuses, ("name", status => status.Name), ("state", status => status.State), ("pid", status => status.Pid), ("uptime", status => status.Uptime?.ToString(@"hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture)), ("accelerator", status => status.Accelerator), ("last exit", status => status.LastExit?.Reason));
        return ExitCodes.Success;
    }
}

internal sealed class VmCreateSettings : VmSettings
{
    [CommandOption("--memory <MIB>")]
    [Description("Memory in MiB. Default 256.")]
    public int MemoryMiB { get; set; } = 256;

    [CommandOption("--cpus <N>")]
    [Description("vCPUs. Default 1.")]
    public int Cpus { get; set; } = 1;

    [CommandOption("--disk <VOLUME>")]
    [Description("A disk: a storage volume (pool:name), or a host image file with --allow-host-path; the boot disk, or a data disk with --test-guest.")]
    public string? Disk { get; set; }

    [CommandOption("--allow-host-path")]
    [Description("Let --disk name a host file (an absolute path) instead of a storage volume: the guest then reads and writes that file, whatever it is.")]
    public bool AllowHostPath { get; set; }

    public override ValidationResult Validate()
    {
        if (Disk is { } disk && !VmSpecValidator.IsVolumeId(disk))
        {
            if (!AllowHostPath)
            {
                return ValidationResult.Error($"--disk '{disk}' is not a storage volume (pool:name); to attach a host file, add --allow-host-path (the guest can then read and write it), or create a volume: virtctl storage create POOL NAME SIZE");
            }

            if (!Path.IsPathFullyQualified(disk))
            {
                return ValidationResult.Error($"--disk '{disk}' is neither a storage volume (pool:name) nor an absolute path");
            }
        }

        return base.Validate();
    }

    [CommandOption("--test-guest")]
    [Description("Boot the SDK's embedded test guest (kernel + initramfs from scripts/build-guest.sh).")]
    public bool TestGuest { get; set; }

    [CommandOption("--host-device <ADDRESS>")]
    [Description("Pass a host PCI device (all functions of its slot) through VFIO. Repeatable.")]
    public string[] HostDevices { get; set; } = [];
}

[Description("Create a VM (it is not started).")]
internal sealed class VmCreateCommand : VirtCommand<VmCreateSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, VmCreateSettings settings, CancellationToken cancellationToken)
    {
        var spec = settings.TestGuest ? EmbeddedGuest.CreateSpec(settings.Name, memoryMiB: settings.MemoryMiB) : new VmSpec(settings.Name) { Memory = new VmMemory { SizeMiB = settings.MemoryMiB } };
        spec = spec with
        {
            Cpu = new VmCpu { Cores = settings.Cpus },
            Disks = settings.Disk is { } disk ? [.. spec.Disks, settings.TestGuest ? new VmDisk("data", disk) : new VmDisk("root", disk) { BootIndex = 0 }] : spec.Disks,
            HostDevices = settings.HostDevices.Select(address => new VmHostDevice(address) { AllFunctions = true }).ToList(),
        };
        var vm = await host.Vms.CreateAsync(spec, cancellationToken);
        Output.Object(settings, await vm.GetStatusAsync(cancellationToken), $"created VM {vm.Name}");
        return ExitCodes.Success;
    }
}

/// <summary>A command that does one thing to a VM and prints its status afterwards.</summary>
internal abstract class VmActionCommand : VirtCommand<VmSettings>
{
    /// <summary>The past tense that the output line starts with ("started").</summary>
    protected abstract string Done { get; }

    protected abstract Task ActAsync(IVirtualMachine vm, CancellationToken cancellationToken);

    protected override async Task<int> RunAsync(VirtHost host, VmSettings settings, CancellationToken cancellationToken)
    {
        var vm = await host.Vms.GetAsync(settings.Name, cancellationToken);
        await ActAsync(vm, cancellationToken);
        Output.Object(settings, await vm.GetStatusAsync(cancellationToken), $"{Done} VM {vm.Name}");
        return ExitCodes.Success;
    }
}

[Description("Start a VM.")]
internal sealed class VmStartCommand : VmActionCommand
{
    protected override string Done => "started";

    protected override Task ActAsync(IVirtualMachine vm, CancellationToken cancellationToken) => vm.StartAsync(cancellationToken);
}

internal sealed class VmStopSettings : VmSettings
{
    [CommandOption("--timeout <SECONDS>")]
    [Description("How long the guest may take to shut down. Default 30.")]
    public int TimeoutSeconds { get; set; } = 30;

    [CommandOption("--force")]
    [Description("Kill QEMU when the guest does not shut down in time (or at once with --timeout 0).")]
    public bool Force { get; set; }
}

[Description("Shut a VM down (ACPI power button; --force kills after the timeout).")]
internal sealed class VmStopCommand : VirtCommand<VmStopSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, VmStopSettings settings, CancellationToken cancellationToken)
    {
        var vm = await host.Vms.GetAsync(settings.Name, cancellationToken);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(settings.TimeoutSeconds), settings.Force, cancellationToken);
        Output.Object(settings, await vm.GetStatusAsync(cancellationToken), $"stopped VM {vm.Name}");
        return ExitCodes.Success;
    }
}

[Description("Pause a VM's vCPUs (works while another process, such as the panel, manages the VM).")]
internal sealed class VmPauseCommand : VmActionCommand
{
    protected override string Done => "paused";

    protected override Task ActAsync(IVirtualMachine vm, CancellationToken cancellationToken) => vm.PauseAsync(cancellationToken);
}

[Description("Resume a paused VM.")]
internal sealed class VmResumeCommand : VmActionCommand
{
    protected override string Done => "resumed";

    protected override Task ActAsync(IVirtualMachine vm, CancellationToken cancellationToken) => vm.ResumeAsync(cancellationToken);
}

internal sealed class VmConsoleSettings : VmSettings
{
    [CommandOption("--wait-for <TEXT>")]
    [Description("Wait until the serial console shows this text (exit 5 after --timeout).")]
    public string? WaitFor { get; set; }

    [CommandOption("--timeout <SECONDS>")]
    [Description("How long to wait for --wait-for (or, with --attach, how long to stay after standard input ends). Default 60.")]
    public int TimeoutSeconds { get; set; } = 60;

    [CommandOption("--attach")]
    [Description("Attach to the interactive serial console: standard input goes to the guest, its output to standard output; Ctrl-] detaches.")]
    public bool Attach { get; set; }
}

[Description("Print the VM's serial console log (optionally waiting for a text), or --attach to it.")]
internal sealed class VmConsoleCommand : VirtCommand<VmConsoleSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, VmConsoleSettings settings, CancellationToken cancellationToken)
    {
        var vm = await host.Vms.GetAsync(settings.Name, cancellationToken);
        if (settings.Attach)
        {
            return await SerialAttach.RunAsync(vm, TimeSpan.FromSeconds(settings.TimeoutSeconds), cancellationToken);
        }

        var deadline = DateTime.UtcNow.AddSeconds(settings.TimeoutSeconds);
        while (true)
        {
            var log = File.Exists(vm.Endpoints.SerialLog) ? await File.ReadAllTextAsync(vm.Endpoints.SerialLog, cancellationToken) : string.Empty;
            if (settings.WaitFor is null || log.Contains(settings.WaitFor, StringComparison.Ordinal))
            {
                Output.Object(settings, new { vm = vm.Name, serial = log }, log);
                return ExitCodes.Success;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"VM '{vm.Name}' did not print '{settings.WaitFor}' on its serial console within {settings.TimeoutSeconds} s; it printed: {log}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }
}

internal sealed class VmSnapshotSettings : VmSettings
{
    [CommandArgument(1, "[snapshot]")]
    [Description("The snapshot's name; omit to list the snapshots.")]
    public string? Snapshot { get; set; }

    [CommandOption("--restore")]
    [Description("Restore the named snapshot instead of creating it.")]
    public bool Restore { get; set; }
}

[Description("Create (or --restore, or list) a live snapshot of a VM with its RAM.")]
internal sealed class VmSnapshotCommand : VirtCommand<VmSnapshotSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, VmSnapshotSettings settings, CancellationToken cancellationToken)
    {
        var vm = await host.Vms.GetAsync(settings.Name, cancellationToken);
        if (settings.Snapshot is null)
        {
            Output.Table(settings, await vm.Snapshots.ListAsync(cancellationToken), ("name", snapshot => snapshot.Name), ("created", snapshot => snapshot.CreatedAt), ("vm state (bytes)", snapshot => snapshot.VmStateBytes));
            return ExitCodes.Success;
        }

        if (settings.Restore)
        {
            await vm.Snapshots.RestoreAsync(settings.Snapshot, cancellationToken);
            Output.Done(settings, $"restored {vm.Name} to snapshot {settings.Snapshot}");
            return ExitCodes.Success;
        }

        var created = await AnsiConsoleStatus(settings, $"snapshotting {vm.Name}", () => vm.Snapshots.CreateAsync(settings.Snapshot, cancellationToken));
        Output.Object(settings, created, $"created snapshot {created.Name} of {vm.Name}");
        return ExitCodes.Success;
    }

    private static Task<T> AnsiConsoleStatus<T>(GlobalSettings settings, string what, Func<Task<T>> work) =>
        settings.Json || Console.IsOutputRedirected ? work() : AnsiConsole.Status().StartAsync(what, _ => work());
}

internal sealed class VmMigrateSettings : VmSettings
{
    [CommandOption("--to <URI>")]
    [Description("Another host's panel (https://HOST:8006: it receives the VM), or a QEMU waiting for the VM (tcp:HOST:PORT or unix:PATH); omit to move it to a new QEMU on this host.")]
    public string? Destination { get; set; }

    [CommandOption("--token-file <FILE>")]
    [Description("With --to https://...: the hosts' shared token (the other panel's Panel:HostTokenFile). Default $VIRT_HOST_TOKEN.")]
    public string? TokenFile { get; set; }

    [CommandOption("--tls-dir <DIR>")]
    [Description("With --to https://...: this host's certificates in QEMU's layout (virtctl host tls issue). Default the KVM backend's own.")]
    public string? TlsDirectory { get; set; }

    [CommandOption("--host-name <NAME>")]
    [Description("With --to https://...: this host's name, the common name of its certificate. Default the machine's name.")]
    public string? HostName { get; set; }

    [CommandOption("--keep-copied-disks")]
    [Description("With --to https://...: keep this host's copies of the disks the migration copies (host-local volumes and files); by default they are deleted once the VM runs there.")]
    public bool KeepCopiedDisks { get; set; }

    [CommandOption("--insecure-clear-text")]
    [Description("With --to: migrate in clear text (no TLS), to a plain-http panel or to tcp:HOST:PORT on another host; only on a dedicated, trusted link.")]
    public bool InsecureClearText { get; set; }
}

[Description("Live-migrate a running VM, with a progress bar.")]
internal sealed class VmMigrateCommand : VirtCommand<VmMigrateSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, VmMigrateSettings settings, CancellationToken cancellationToken)
    {
        var vm = await host.Vms.GetAsync(settings.Name, cancellationToken);
        using var client = Uri.TryCreate(settings.Destination, UriKind.Absolute, out var panel) && panel.Scheme is "https" or "http"
            ? new HostToHostClient(settings.TlsDirectory)
            : null;
        var migration = client is not null && panel is not null
            ? await ToPanelAsync(client, vm, panel, settings, host.Storage, cancellationToken)
            : vm.Migration.MigrateAsync(new VmMigrationOptions { DestinationUri = settings.Destination, AllowClearText = settings.InsecureClearText }, cancellationToken);
        VmMigrationProgress? last = null;
        if (settings.Json || Console.IsOutputRedirected)
        {
            await foreach (var progress in migration)
            {
                last = progress;
            }
        }
        else
        {
            await AnsiConsole.Progress().StartAsync(async context =>
            {
                var task = context.AddTask($"migrating {vm.Name}", maxValue: 100);
                await foreach (var progress in migration)
                {
                    last = progress;
                    task.Value = progress.TotalBytes > 0 ? Math.Min(100, 100.0 * progress.TransferredBytes / progress.TotalBytes) : task.Value;
                }

                task.Value = 100;
            });
        }

        Output.Object(settings, last, $"migrated {vm.Name}: {last?.Status}, {last?.TransferredBytes / 1024 / 1024} MiB in {last?.Elapsed.TotalSeconds:0.0} s");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Asks the other host's panel to get ready for the VM; its ticket says where and how to send it. A migration that
    /// fails afterwards tells that panel to drop what it made.
    /// </summary>
    private static async Task<IAsyncEnumerable<VmMigrationProgress>> ToPanelAsync(HostToHostClient client, IVirtualMachine vm, Uri panel, VmMigrateSettings settings, Virt.Storage.IStorageManager storage, CancellationToken cancellationToken)
    {
        var token = settings.TokenFile is { } file
            ? HostToHostApi.ReadTokenFile(file)
            : Environment.GetEnvironmentVariable(HostToHostApi.TokenEnvironmentVariable) is { Length: > 0 } fromEnvironment
                ? fromEnvironment
                : throw new ArgumentException($"migrating to the panel at {panel} needs the hosts' shared token: give --token-file FILE or set {HostToHostApi.TokenEnvironmentVariable}");
        var sourceHost = new Virt.Hosting.VirtHostIdentity(settings.HostName ?? Environment.MachineName).Name;
        var ticket = await client.RequestTicketAsync(vm, panel, token, sourceHost, settings.InsecureClearText, cancellationToken);
        return client.MigrateAsync(vm, panel, token, ticket, settings.TlsDirectory, settings.InsecureClearText, settings.KeepCopiedDisks ? null : storage, cancellationToken);
    }
}

internal sealed class VmDeleteSettings : VmSettings
{
    [CommandOption("--force")]
    [Description("Kill it first if it runs.")]
    public bool Force { get; set; }
}

[Description("Delete a VM (its state directory; disks named by path are left alone).")]
internal sealed class VmDeleteCommand : VirtCommand<VmDeleteSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, VmDeleteSettings settings, CancellationToken cancellationToken)
    {
        await host.Vms.DeleteAsync(settings.Name, settings.Force, cancellationToken);
        Output.Done(settings, $"deleted VM {settings.Name}");
        return ExitCodes.Success;
    }
}
