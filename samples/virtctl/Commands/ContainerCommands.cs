using System.ComponentModel;
using Spectre.Console.Cli;
using Virt.Containers;
using Virt.Ctl.Infrastructure;

namespace Virt.Ctl.Commands;

internal class ContainerSettings : GlobalSettings
{
    [CommandArgument(0, "<name>")]
    [Description("The container's name.")]
    public string Name { get; set; } = string.Empty;
}

[Description("List the containers with their state.")]
internal sealed class ContainerListCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var rows = new List<(string Name, ContainerStatus Status)>();
        foreach (var container in await host.Containers.ListAsync(cancellationToken))
        {
            rows.Add((container.Name, await container.GetStatusAsync(cancellationToken)));
        }

        Output.Table(settings, rows.Select(row => new { name = row.Name, state = row.Status.State, initPid = row.Status.InitPid }).ToList(), ("name", row => row.name), ("state", row => row.state), ("init pid", row => row.initPid));
        return ExitCodes.Success;
    }
}

internal sealed class ContainerCreateSettings : ContainerSettings
{
    [CommandOption("--tarball <PATH>")]
    [Description("A root file system tarball (gz/xz/zst); default: a busybox system from the host's static busybox.")]
    public string? Tarball { get; set; }

    [CommandOption("--memory <MIB>")]
    [Description("Memory limit in MiB.")]
    public int? MemoryMiB { get; set; }

    [CommandOption("--unprivileged")]
    [Description("Run with shifted ids (container root is uid 100000 on the host).")]
    public bool Unprivileged { get; set; }
}

[Description("Create a container (it is not started).")]
internal sealed class ContainerCreateCommand : VirtCommand<ContainerCreateSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, ContainerCreateSettings settings, CancellationToken cancellationToken)
    {
        var rootfs = settings.Tarball is { } tarball ? ContainerRootfs.Tarball(tarball) : ContainerRootfs.Busybox();
        var container = await host.Containers.CreateAsync(
            new ContainerSpec(settings.Name, rootfs) { Unprivileged = settings.Unprivileged, Limits = new ContainerLimits { MemoryMiB = settings.MemoryMiB } },
            cancellationToken);
        Output.Object(settings, await container.GetStatusAsync(cancellationToken), $"created container {container.Name}");
        return ExitCodes.Success;
    }
}

[Description("Start a container.")]
internal sealed class ContainerStartCommand : VirtCommand<ContainerSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, ContainerSettings settings, CancellationToken cancellationToken)
    {
        var container = await host.Containers.GetAsync(settings.Name, cancellationToken);
        await container.StartAsync(cancellationToken: cancellationToken);
        Output.Object(settings, await container.GetStatusAsync(cancellationToken), $"started container {container.Name}");
        return ExitCodes.Success;
    }
}

internal sealed class ContainerStopSettings : ContainerSettings
{
    [CommandOption("--timeout <SECONDS>")]
    [Description("How long init may take to stop before it is killed. Default 10.")]
    public int TimeoutSeconds { get; set; } = 10;
}

[Description("Stop a container.")]
internal sealed class ContainerStopCommand : VirtCommand<ContainerStopSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, ContainerStopSettings settings, CancellationToken cancellationToken)
    {
        var container = await host.Containers.GetAsync(settings.Name, cancellationToken);
        await container.StopAsync(TimeSpan.FromSeconds(settings.TimeoutSeconds), cancellationToken);
        Output.Object(settings, await container.GetStatusAsync(cancellationToken), $"stopped container {container.Name}");
        return ExitCodes.Success;
    }
}

[Description("Run a command in a running container; virtctl exits with the command's exit code (128+n for a signal).")]
internal sealed class ContainerExecCommand : VirtCommand<ContainerSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, ContainerSettings settings, CancellationToken cancellationToken)
    {
        // The program and its arguments come after "--", untouched by option parsing.
        var command = Context.Remaining.Raw.ToList();
        if (command.Count == 0)
        {
            throw new ArgumentException("name the program to run after --, e.g. virtctl ct exec box -- uname -a");
        }

        var container = await host.Containers.GetAsync(settings.Name, cancellationToken);
        var result = await container.ExecAsync(new ContainerExecRequest(command), cancellationToken);
        if (settings.Json)
        {
            Output.Object(settings, result, string.Empty);
        }
        else
        {
            Console.Out.Write(result.StandardOutput);
            Console.Error.Write(result.StandardError);
        }

        return result.Signal is { } signal ? 128 + signal : result.ExitCode;
    }
}

internal sealed class ContainerDeleteSettings : ContainerSettings
{
    [CommandOption("--force")]
    [Description("Kill it first if it runs.")]
    public bool Force { get; set; }
}

[Description("Delete a container and its root file system.")]
internal sealed class ContainerDeleteCommand : VirtCommand<ContainerDeleteSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, ContainerDeleteSettings settings, CancellationToken cancellationToken)
    {
        await host.Containers.DeleteAsync(settings.Name, settings.Force, cancellationToken);
        Output.Done(settings, $"deleted container {settings.Name}");
        return ExitCodes.Success;
    }
}
