using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Processes;

namespace Virt.Storage.Tests.Pools;

/// <summary>
/// A fake <c>rbd</c> and <c>ceph</c> behind <see cref="IProcessRunner"/>: one Ceph pool of images held in
/// memory, answering with the tools' own JSON (<c>rbd info/ls/snap ls/du --format json</c>, <c>ceph df --format json</c>),
/// their error lines ("rbd: error opening image NAME: (2) No such file or directory") and exit codes. It
/// records every command line (without the <c>-c CONF --id USER</c> prefix) and fails the commands
/// <see cref="FailWhen"/> picks with exit code 1 and that stderr.
/// </summary>
internal sealed class ScriptedCeph(string pool) : IProcessRunner
{
    private const long ObjectSize = 4L << 20;
    private readonly List<string> _commands = [];
    private readonly SortedDictionary<string, Image> _images = new(StringComparer.Ordinal);
    private int _nextId = 1;

    /// <summary>The rbd and ceph command lines run, in order, as "rbd ARGS" after the cluster options.</summary>
    public IReadOnlyList<string> Commands => _commands;

    /// <summary>The images in the pool now.</summary>
    public IReadOnlyCollection<string> Images => _images.Keys;

    /// <summary>The cluster's raw size and free bytes, as <c>ceph df</c> reports them.</summary>
    public (long Total, long Available) Cluster { get; set; } = (30L << 30, 29L << 30);

    /// <summary>Picks the commands (by their arguments after the cluster options) that fail with exit code 1 and this standard error.</summary>
    public Func<IReadOnlyList<string>, string?> FailWhen { get; set; } = _ => null;

    /// <summary>The snapshots of an image, by name, in the order they were taken.</summary>
    public IReadOnlyList<string> SnapshotsOf(string image) => _images[image].Snapshots.Select(snapshot => snapshot.Name).ToList();

    /// <summary>Bytes the image's head has written (what <c>rbd du</c> reports as used).</summary>
    public long UsedOf(string image) => _images[image].Used;

    /// <summary>Makes an image as if rbd had made it (a crash left it behind, or a guest wrote to it).</summary>
    public void Add(string image, long size, long used = 0) => _images[image] = new Image(_nextId++, size) { Used = used };

    /// <summary>Writes to an image: its used bytes grow (what a guest would do between snapshots).</summary>
    public void Write(string image, long used) => _images[image].Used = used;

    public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default)
    {
        // -c CONF --id USER, then the command.
        if (spec.Arguments.Count < 5 || spec.Arguments[0] != "-c" || spec.Arguments[2] != "--id")
        {
            throw new InvalidOperationException($"'{spec.CommandLine}' does not name the cluster (-c CONF --id USER)");
        }

        var arguments = spec.Arguments.Skip(4).ToList();
        _commands.Add($"{spec.FileName} {string.Join(' ', arguments)}");
        if (FailWhen(arguments) is { } failure)
        {
            return Task.FromResult(new ProcessResult(spec, 1, string.Empty, failure, TimeSpan.Zero));
        }

        var (exit, output, error) = spec.FileName switch
        {
            "ceph" when arguments[0] == "df" => Df(),
            "rbd" => Rbd(arguments),
            _ => throw new InvalidOperationException($"the fake Ceph does not run '{spec.CommandLine}'"),
        };
        return Task.FromResult(new ProcessResult(spec, exit, output, error, TimeSpan.Zero));
    }

    public IRunningProcess Start(ProcessSpec spec) => throw new InvalidOperationException($"the fake Ceph does not stream '{spec.CommandLine}'");

    private (int, string, string) Rbd(List<string> arguments)
    {
        var options = arguments.Where(argument => argument.StartsWith("--", StringComparison.Ordinal)).ToList();
        var positional = new List<string>();
        for (var i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] is "--format" or "--size" or "--from-snap")
            {
                i++;
            }
            else if (!arguments[i].StartsWith("--", StringComparison.Ordinal))
            {
                positional.Add(arguments[i]);
            }
        }

        var size = arguments.IndexOf("--size") is var at and >= 0 ? long.Parse(arguments[at + 1].TrimEnd('B'), CultureInfo.InvariantCulture) : 0;
        return positional switch
        {
            ["ls", _] when options.Contains("--format") => Ok(new JsonArray([.. _images.Keys.Select(name => JsonValue.Create(name))]).ToJsonString()),
            ["ls", _] => Ok(string.Concat(_images.Keys.Select(name => name + "\n"))),
            ["info", var spec] => Open(spec, image => Ok(Info(Name(spec), image).ToJsonString())),
            ["snap", "ls", var spec] => Open(spec, image => Ok(new JsonArray([.. image.Snapshots.Select(snapshot => Snapshot(snapshot))]).ToJsonString())),
            ["du", var spec] => Open(spec, image => Ok(Du(Name(spec), image).ToJsonString())),
            ["create", var spec] => Create(Name(spec), size),
            ["resize", var spec] => Open(spec, image => Resize(image, size, options.Contains("--allow-shrink"))),
            ["snap", "create", var spec] => Open(spec, image => SnapCreate(image, SnapshotName(spec))),
            ["snap", "rm", var spec] => Open(spec, image => SnapRemove(image, SnapshotName(spec))),
            ["snap", "rollback", var spec] => Open(spec, image => SnapRollback(image, SnapshotName(spec))),
            ["snap", "purge", var spec] => Open(spec, image => { image.Snapshots.Clear(); return Ok(string.Empty); }),
            ["rm", var spec] => Remove(Name(spec)),
            ["rename", var from, var to] => Rename(Name(from), Name(to)),
            ["cp", var from, var to] => Open(from, image => Copy(image, Name(to))),
            ["clone", var from, var to] => Open(from, image => Clone(Name(from), image, SnapshotName(from), Name(to))),
            ["flatten", var spec] => Open(spec, image => { image.Parent = null; return Ok(string.Empty); }),
            _ => throw new InvalidOperationException($"the fake rbd does not know 'rbd {string.Join(' ', arguments)}'"),
        };
    }

    private static (int, string, string) Ok(string output) => (0, output, string.Empty);

    private string Name(string spec)
    {
        var slash = spec.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || spec[..slash] != pool)
        {
            throw new InvalidOperationException($"'{spec}' is not an image of pool '{pool}'");
        }

        var at = spec.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? spec[(slash + 1)..] : spec[(slash + 1)..at];
    }

    private static string SnapshotName(string spec) => spec[(spec.IndexOf('@', StringComparison.Ordinal) + 1)..];

    private (int, string, string) Open(string spec, Func<Image, (int, string, string)> action) =>
        _images.TryGetValue(Name(spec), out var image)
            ? action(image)
            : (2, string.Empty, $"rbd: error opening image {Name(spec)}: (2) No such file or directory\n");

    private static JsonObject Info(string name, Image image)
    {
        var info = new JsonObject
        {
            ["name"] = name,
            ["id"] = image.Id.ToString("x12", CultureInfo.InvariantCulture),
            ["size"] = image.Size,
            ["objects"] = (image.Size + ObjectSize - 1) / ObjectSize,
            ["order"] = 22,
            ["object_size"] = ObjectSize,
            ["snapshot_count"] = image.Snapshots.Count,
            ["block_name_prefix"] = $"rbd_data.{image.Id:x12}",
            ["format"] = 2,
            ["features"] = new JsonArray("layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"),
            ["op_features"] = new JsonArray(),
            ["flags"] = new JsonArray(),
            ["create_timestamp"] = "Sun Dec  6 14:00:00 2026",
        };
        if (image.Parent is { } parent)
        {
            info["parent"] = new JsonObject
            {
                ["pool"] = parent.Pool,
                ["pool_namespace"] = string.Empty,
                ["image"] = parent.Image,
                ["id"] = "1f2e3d4c5b6a",
                ["snapshot"] = parent.Snapshot,
                ["trash"] = false,
                ["overlap"] = image.Size,
            };
        }

        return info;
    }

    private static JsonObject Snapshot(Snap snapshot) => new()
    {
        ["id"] = snapshot.Id,
        ["name"] = snapshot.Name,
        ["size"] = snapshot.Size,
        ["protected"] = "false",
        ["timestamp"] = "Sun Dec  6 14:00:00 2026",
    };

    private static JsonObject Du(string name, Image image)
    {
        var rows = new JsonArray();
        foreach (var snapshot in image.Snapshots)
        {
            rows.Add(new JsonObject { ["name"] = name, ["id"] = image.Id.ToString("x12", CultureInfo.InvariantCulture), ["snapshot"] = snapshot.Name, ["snapshot_id"] = snapshot.Id, ["provisioned_size"] = snapshot.Size, ["used_size"] = snapshot.Used });
        }

        rows.Add(new JsonObject { ["name"] = name, ["id"] = image.Id.ToString("x12", CultureInfo.InvariantCulture), ["provisioned_size"] = image.Size, ["used_size"] = image.Used });
        return new JsonObject
        {
            ["images"] = rows,
            ["total_provisioned_size"] = image.Size,
            ["total_used_size"] = image.Used + image.Snapshots.Sum(snapshot => snapshot.Used),
        };
    }

    private (int, string, string) Df() => Ok(new JsonObject
    {
        ["stats"] = new JsonObject
        {
            ["total_bytes"] = Cluster.Total,
            ["total_avail_bytes"] = Cluster.Available,
            ["total_used_bytes"] = Cluster.Total - Cluster.Available,
            ["total_used_raw_bytes"] = Cluster.Total - Cluster.Available,
            ["total_used_raw_ratio"] = (double)(Cluster.Total - Cluster.Available) / Cluster.Total,
            ["num_osds"] = 1,
            ["num_per_pool_osds"] = 1,
            ["num_per_pool_omap_osds"] = 1,
        },
        ["stats_by_class"] = new JsonObject(),
        ["pools"] = new JsonArray(new JsonObject { ["name"] = pool, ["id"] = 2, ["stats"] = new JsonObject { ["stored"] = _images.Values.Sum(image => image.Used), ["objects"] = _images.Count, ["max_avail"] = Cluster.Available } }),
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));

    private (int, string, string) Create(string name, long size)
    {
        if (_images.ContainsKey(name))
        {
            return (1, string.Empty, "rbd: create error: (17) File exists\n");
        }

        _images[name] = new Image(_nextId++, size);
        return Ok(string.Empty);
    }

    private static (int, string, string) Resize(Image image, long size, bool allowShrink)
    {
        if (size < image.Size && !allowShrink)
        {
            return (22, string.Empty, "rbd: shrinking an image is only allowed with the --allow-shrink flag\n");
        }

        image.Size = size;
        image.Used = Math.Min(image.Used, size);
        return Ok(string.Empty);
    }

    private (int, string, string) SnapCreate(Image image, string snapshot)
    {
        if (image.Snapshots.Any(existing => existing.Name == snapshot))
        {
            return (17, string.Empty, $"rbd: failed to create snapshot: (17) File exists\n");
        }

        image.Snapshots.Add(new Snap(_nextId++, snapshot, image.Size, image.Used));
        return Ok(string.Empty);
    }

    private static (int, string, string) SnapRemove(Image image, string snapshot) =>
        image.Snapshots.RemoveAll(existing => existing.Name == snapshot) > 0
            ? Ok(string.Empty)
            : (2, string.Empty, "rbd: failed to remove snapshot: (2) No such file or directory\n");

    private static (int, string, string) SnapRollback(Image image, string snapshot)
    {
        if (image.Snapshots.FirstOrDefault(existing => existing.Name == snapshot) is not { } taken)
        {
            return (2, string.Empty, "rbd: rollback failed: (2) No such file or directory\n");
        }

        (image.Size, image.Used) = (taken.Size, taken.Used);
        return Ok(string.Empty);
    }

    private (int, string, string) Remove(string name)
    {
        if (!_images.TryGetValue(name, out var image))
        {
            return (2, string.Empty, "rbd: delete error: (2) No such file or directory\n");
        }

        if (image.Snapshots.Count > 0)
        {
            return (39, string.Empty, "rbd: image has snapshots - these must be deleted with 'rbd snap purge' before the image can be removed.\n");
        }

        _images.Remove(name);
        return Ok(string.Empty);
    }

    private (int, string, string) Rename(string from, string to)
    {
        if (!_images.Remove(from, out var image))
        {
            return (2, string.Empty, "rbd: rename error: (2) No such file or directory\n");
        }

        if (!_images.TryAdd(to, image))
        {
            _images[from] = image;
            return (17, string.Empty, "rbd: rename error: (17) File exists\n");
        }

        return Ok(string.Empty);
    }

    private (int, string, string) Copy(Image source, string target)
    {
        if (_images.ContainsKey(target))
        {
            return (17, string.Empty, "rbd: copy failed: (17) File exists\n");
        }

        _images[target] = new Image(_nextId++, source.Size) { Used = source.Used };
        return Ok(string.Empty);
    }

    private (int, string, string) Clone(string baseName, Image source, string snapshot, string target)
    {
        if (source.Snapshots.All(existing => existing.Name != snapshot))
        {
            return (2, string.Empty, $"rbd: clone error: (2) No such file or directory\n");
        }

        _images[target] = new Image(_nextId++, source.Size) { Parent = (pool, baseName, snapshot) };
        return Ok(string.Empty);
    }

    private sealed class Image(int id, long size)
    {
        public int Id { get; } = id;

        public long Size { get; set; } = size;

        public long Used { get; set; }

        public List<Snap> Snapshots { get; } = [];

        public (string Pool, string Image, string Snapshot)? Parent { get; set; }
    }

    private sealed record Snap(int Id, string Name, long Size, long Used);
}
