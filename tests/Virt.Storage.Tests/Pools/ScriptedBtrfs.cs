using System.IO.Abstractions;
using Virt.Processes;

namespace Virt.Storage.Tests.Pools;

/// <summary>
/// A fake btrfs (and the <c>stat -f</c> that tells a pool it is on btrfs) behind <see cref="IProcessRunner"/>,
/// working on an in-memory file system: a subvolume is a directory (renaming it keeps it one, as on btrfs),
/// a snapshot a copy of one (read-only ones remembered), and it answers with btrfs-progs' own messages and exit codes. It records every command
/// line and fails the commands <see cref="FailWhen"/> picks, the way the real tool fails: exit 1, "ERROR: ..." on stderr.
/// </summary>
internal sealed class ScriptedBtrfs(IFileSystem files) : IProcessRunner
{
    private readonly List<string> _commands = [];
    private readonly HashSet<string> _readOnly = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _limits = new(StringComparer.Ordinal);
    private DateTime _clock = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The btrfs command lines run, in order.</summary>
    public IReadOnlyList<string> Commands => _commands;

    /// <summary>The read-only subvolumes (snapshots).</summary>
    public IReadOnlyCollection<string> ReadOnly => _readOnly;

    /// <summary>The qgroup limits set, by subvolume path.</summary>
    public IReadOnlyDictionary<string, long> Limits => _limits;

    /// <summary>Whether <c>btrfs quota enable</c> ran.</summary>
    public bool QuotasEnabled { get; private set; }

    /// <summary>Picks the commands (by their arguments) that fail with exit code 1 and this standard error.</summary>
    public Func<IReadOnlyList<string>, string?> FailWhen { get; set; } = _ => null;

    public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default)
    {
        var arguments = spec.Arguments;
        if (spec.FileName == "stat")
        {
            // stat -f -c %T PATH: the file system's type.
            return Task.FromResult(new ProcessResult(spec, 0, "btrfs\n", string.Empty, TimeSpan.Zero));
        }

        if (spec.FileName != "btrfs")
        {
            throw new InvalidOperationException($"the fake btrfs does not run '{spec.CommandLine}'");
        }

        _commands.Add(spec.CommandLine);
        if (FailWhen(arguments) is { } failure)
        {
            return Task.FromResult(new ProcessResult(spec, 1, string.Empty, failure, TimeSpan.Zero));
        }

        var (exit, output, error) = (arguments[0], arguments[1]) switch
        {
            ("subvolume", "create") => Create(arguments[2]),
            ("subvolume", "snapshot") when arguments[2] == "-r" => Snapshot(arguments[3], arguments[4], readOnly: true),
            ("subvolume", "snapshot") => Snapshot(arguments[2], arguments[3], readOnly: false),
            ("subvolume", "delete") => Delete(arguments[2]),
            ("quota", "enable") => Enable(),
            ("qgroup", "limit") => Limit(long.Parse(arguments[2], System.Globalization.CultureInfo.InvariantCulture), arguments[3]),
            _ => throw new InvalidOperationException($"the fake btrfs does not know '{spec.CommandLine}'"),
        };
        return Task.FromResult(new ProcessResult(spec, exit, output, error, TimeSpan.Zero));
    }

    public IRunningProcess Start(ProcessSpec spec) => throw new InvalidOperationException($"the fake btrfs does not stream '{spec.CommandLine}'");

    private (int, string, string) Create(string path)
    {
        if (!files.Directory.Exists(Path.GetDirectoryName(path)))
        {
            return (1, string.Empty, $"ERROR: cannot access '{Path.GetDirectoryName(path)}': No such file or directory\n");
        }

        if (files.Path.Exists(path))
        {
            return (1, string.Empty, $"ERROR: target path already exists: {path}\n");
        }

        MakeSubvolume(path);
        return (0, $"Create subvolume '{path}'\n", string.Empty);
    }

    private (int, string, string) Snapshot(string source, string target, bool readOnly)
    {
        if (!files.Directory.Exists(source))
        {
            return (1, string.Empty, $"ERROR: Not a Btrfs subvolume: {source}\n");
        }

        if (files.Path.Exists(target))
        {
            return (1, string.Empty, $"ERROR: target path already exists: {target}\n");
        }

        MakeSubvolume(target);
        foreach (var file in files.Directory.GetFiles(source))
        {
            files.File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        if (readOnly)
        {
            _readOnly.Add(target);
        }

        return (0, $"Create {(readOnly ? "a readonly" : "a")} snapshot of '{source}' in '{target}'\n", string.Empty);
    }

    private (int, string, string) Delete(string path)
    {
        if (!files.Directory.Exists(path))
        {
            return (1, string.Empty, $"ERROR: Could not statfs: No such file or directory\n");
        }

        _readOnly.Remove(path);
        _limits.Remove(path);
        files.Directory.Delete(path, recursive: true);
        return (0, $"Delete subvolume (no-commit): '{path}'\n", string.Empty);
    }

    private (int, string, string) Enable()
    {
        QuotasEnabled = true;
        return (0, string.Empty, string.Empty);
    }

    private (int, string, string) Limit(long bytes, string path)
    {
        if (!QuotasEnabled)
        {
            return (1, string.Empty, "ERROR: unable to limit requested quota group: quotas not enabled\n");
        }

        _limits[path] = bytes;
        return (0, string.Empty, string.Empty);
    }

    /// <summary>A new subvolume's directory is 0755, as btrfs makes it; a later one is created later (snapshots are listed by creation time).</summary>
    private void MakeSubvolume(string path)
    {
        files.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _clock = _clock.AddSeconds(1);
        files.Directory.SetCreationTimeUtc(path, _clock);
    }

    /// <summary>Makes a directory a subvolume as if btrfs had made it (a crash left it behind).</summary>
    public void Adopt(string path)
    {
        MakeSubvolume(path);
    }
}
