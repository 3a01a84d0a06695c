using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using Virt.Ctl.Infrastructure;
using Virt.Storage;

namespace Virt.Ctl.Commands;

internal sealed class StorageListSettings : GlobalSettings
{
    [CommandArgument(0, "[pool]")]
    [Description("A pool: list its volumes. Omit to list the pools.")]
    public string? Pool { get; set; }
}

[Description("List the storage pools, or the volumes of one pool.")]
internal sealed class StorageListCommand : VirtCommand<StorageListSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, StorageListSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Pool is null)
        {
            var pools = await host.Storage.ListPoolsAsync(cancellationToken);
            Output.Table(settings, pools.Select(pool => pool.Definition).ToList(), ("pool", pool => pool.Name), ("driver", pool => pool.Driver), ("path", pool => pool.Path));
            return ExitCodes.Success;
        }

        var volumes = await (await host.Storage.GetPoolAsync(settings.Pool, cancellationToken)).ListVolumesAsync(cancellationToken);
        Output.Table(settings, volumes, ("volume", volume => volume.Id), ("format", volume => volume.Format), ("size", volume => Size.Format(volume.CapacityBytes)), ("allocated", volume => Size.Format(volume.AllocationBytes)), ("backing", volume => volume.BackingChain.Count == 0 ? null : string.Join(" ← ", volume.BackingChain)), ("snapshots", volume => string.Join(", ", volume.Snapshots)));
        return ExitCodes.Success;
    }
}

internal sealed class StorageDefineSettings : GlobalSettings
{
    [CommandArgument(0, "<pool>")]
    [Description("The pool's name.")]
    public string Pool { get; set; } = string.Empty;

    [CommandOption("--driver <DRIVER>")]
    [Description("dir, btrfs or rbd. Default dir.")]
    public string Driver { get; set; } = "dir";

    [CommandOption("--path <PATH>")]
    [Description("Where the pool keeps its volumes.")]
    public string Path { get; set; } = string.Empty;

    [CommandOption("--quotas")]
    [Description("btrfs: cap each volume's subvolume at the volume's size (qgroups).")]
    public bool Quotas { get; set; }

    [CommandOption("--ceph-config <FILE>")]
    [Description("rbd: the ceph.conf to use. Default /etc/ceph/ceph.conf.")]
    public string CephConfig { get; set; } = "/etc/ceph/ceph.conf";

    [CommandOption("--rbd-pool <POOL>")]
    [Description("rbd: the Ceph pool holding the images. Default rbd.")]
    public string RbdPool { get; set; } = "rbd";

    [CommandOption("--ceph-user <ID>")]
    [Description("rbd: the Ceph client id. Default admin.")]
    public string CephUser { get; set; } = "admin";

    /// <summary>The definition for the chosen driver; each driver takes only its own options.</summary>
    public StoragePoolDefinition ToDefinition() => Driver switch
    {
        "dir" => new DirPoolDefinition(Pool, Path),
        "btrfs" => new BtrfsPoolDefinition(Pool, Path) { Quotas = Quotas },
        "rbd" => new RbdPoolDefinition(Pool, Path, CephConfig) { RbdPool = RbdPool, CephUser = CephUser },
        _ => throw new ArgumentException($"driver '{Driver}' is unknown: use dir, btrfs or rbd (LVM-thin and ZFS are not offered)"),
    };
}

[Description("Define a storage pool.")]
internal sealed class StorageDefineCommand : VirtCommand<StorageDefineSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, StorageDefineSettings settings, CancellationToken cancellationToken)
    {
        var pool = await host.Storage.DefinePoolAsync(settings.ToDefinition(), cancellationToken);
        Output.Object(settings, pool.Definition, $"defined pool {pool.Definition.Name} ({pool.Definition.Driver} at {pool.Definition.Path})");
        return ExitCodes.Success;
    }
}

internal sealed class StorageCreateSettings : GlobalSettings
{
    [CommandArgument(0, "<pool>")]
    public string Pool { get; set; } = string.Empty;

    [CommandArgument(1, "<volume>")]
    public string Volume { get; set; } = string.Empty;

    [CommandArgument(2, "<size>")]
    [Description("Size with a unit: 512M, 10G, 1T.")]
    public string Size { get; set; } = string.Empty;
}

[Description("Create a volume in a pool.")]
internal sealed class StorageCreateCommand : VirtCommand<StorageCreateSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, StorageCreateSettings settings, CancellationToken cancellationToken)
    {
        var size = Size.Parse(settings.Size);
        var pool = await host.Storage.GetPoolAsync(settings.Pool, cancellationToken);
        var volume = await pool.CreateVolumeAsync(new VolumeSpec(settings.Volume, size), cancellationToken);
        Output.Object(settings, volume, $"created {volume.Id} ({volume.Format}, {Size.Format(volume.CapacityBytes)}) at {volume.Path}");
        return ExitCodes.Success;
    }
}

internal sealed class StorageCloneSettings : GlobalSettings
{
    [CommandArgument(0, "<pool>")]
    public string Pool { get; set; } = string.Empty;

    [CommandArgument(1, "<source>")]
    public string Source { get; set; } = string.Empty;

    [CommandArgument(2, "<target>")]
    public string Target { get; set; } = string.Empty;

    [CommandOption("--linked")]
    [Description("A linked clone (qcow2 backing file, btrfs/RBD snapshot clone) instead of a full copy.")]
    public bool Linked { get; set; }
}

[Description("Clone a volume (full copy with a progress bar, or --linked).")]
internal sealed class StorageCloneCommand : VirtCommand<StorageCloneSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, StorageCloneSettings settings, CancellationToken cancellationToken)
    {
        var pool = await host.Storage.GetPoolAsync(settings.Pool, cancellationToken);
        if (settings.Json || Console.IsOutputRedirected)
        {
            await foreach (var _ in pool.CloneVolumeAsync(settings.Source, settings.Target, settings.Linked, cancellationToken))
            {
            }
        }
        else
        {
            await AnsiConsole.Progress().StartAsync(async context =>
            {
                var task = context.AddTask($"cloning {settings.Source} → {settings.Target}", maxValue: 100);
                await foreach (var progress in pool.CloneVolumeAsync(settings.Source, settings.Target, settings.Linked, cancellationToken))
                {
                    task.Value = progress.Percent;
                }
            });
        }

        var clone = await pool.GetVolumeAsync(settings.Target, cancellationToken);
        Output.Object(settings, clone, $"cloned {settings.Pool}:{settings.Source} to {clone.Id}{(clone.BackingChain.Count > 0 ? $" (backed by {clone.BackingChain[0]})" : string.Empty)}");
        return ExitCodes.Success;
    }
}

internal sealed class StorageSnapshotSettings : GlobalSettings
{
    [CommandArgument(0, "<pool>")]
    public string Pool { get; set; } = string.Empty;

    [CommandArgument(1, "<volume>")]
    public string Volume { get; set; } = string.Empty;

    [CommandArgument(2, "<snapshot>")]
    public string Snapshot { get; set; } = string.Empty;
}

[Description("Snapshot a volume.")]
internal sealed class StorageSnapshotCommand : VirtCommand<StorageSnapshotSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, StorageSnapshotSettings settings, CancellationToken cancellationToken)
    {
        var pool = await host.Storage.GetPoolAsync(settings.Pool, cancellationToken);
        await pool.CreateSnapshotAsync(settings.Volume, settings.Snapshot, cancellationToken);
        Output.Done(settings, $"snapshot {settings.Snapshot} of {settings.Pool}:{settings.Volume} created");
        return ExitCodes.Success;
    }
}

/// <summary>Sizes with binary units, as people type them.</summary>
internal static class Size
{
    public static long Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var unit = char.ToUpperInvariant(text[^1]);
        var shift = unit switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        var digits = shift == 0 ? text : text[..^1];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value << shift
            : throw new ArgumentException($"'{text}' is not a size: write a whole number with K, M, G or T (e.g. 10G)", nameof(text));
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
    };
}
