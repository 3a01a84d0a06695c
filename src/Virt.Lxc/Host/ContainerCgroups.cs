using System.Globalization;
using System.IO.Abstractions;
using Virt.Containers;

namespace Virt.Lxc.Host;

/// <summary>
/// The cgroup directories of one running container, found from its init's <c>/proc/&lt;pid&gt;/cgroup</c>
/// (so whatever LXC named them), and the files the SDK reads and writes there: effective limits,
/// usage counters and the freezer. Every controller is resolved on the hierarchy it really lives on.
/// </summary>
internal sealed class ContainerCgroups
{
    private readonly IFileSystem _fileSystem;
    private readonly CgroupLayout _layout;
    private readonly Dictionary<string, string> _v1Paths;
    private readonly string? _v2Path;

    private ContainerCgroups(IFileSystem fileSystem, CgroupLayout layout, Dictionary<string, string> v1Paths, string? v2Path)
    {
        _fileSystem = fileSystem;
        _layout = layout;
        _v1Paths = v1Paths;
        _v2Path = v2Path;
    }

    public static ContainerCgroups ForProcess(IFileSystem fileSystem, CgroupLayout layout, int pid)
    {
        var v1 = new Dictionary<string, string>(StringComparer.Ordinal);
        string? v2 = null;
        foreach (var line in fileSystem.File.ReadAllLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cgroup"))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3)
            {
                continue;
            }

            if (parts[0] == "0" && parts[1].Length == 0)
            {
                v2 = layout.UnifiedMount is null ? null : layout.UnifiedMount + parts[2];
                continue;
            }

            foreach (var controller in parts[1].Split(','))
            {
                var mount = layout.V1Mount(controller);
                if (mount is not null)
                {
                    v1[controller] = mount + parts[2];
                }
            }
        }

        return new ContainerCgroups(fileSystem, layout, v1, v2);
    }

    /// <summary>The file of a controller: the v1 file where the controller is on v1, the v2 file otherwise; null if neither exists.</summary>
    public string? FileOf(string controller, string v1File, string v2File)
    {
        var path = _v1Paths.TryGetValue(controller, out var v1) ? Path.Combine(v1, v1File) : _v2Path is null ? null : Path.Combine(_v2Path, v2File);
        return path is not null && _fileSystem.File.Exists(path) ? path : null;
    }

    public bool IsV1(string controller) => _v1Paths.ContainsKey(controller);

    public string? Read(string controller, string v1File, string v2File)
    {
        var path = FileOf(controller, v1File, v2File);
        return path is null ? null : _fileSystem.File.ReadAllText(path).Trim();
    }

    public long? ReadNumber(string controller, string v1File, string v2File)
    {
        var text = Read(controller, v1File, v2File);
        return text is not null && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    /// <summary>A value from a "key value" file such as cpu.stat or memory.events.</summary>
    public long? ReadKeyed(string controller, string v1File, string v2File, string key)
    {
        var text = Read(controller, v1File, v2File);
        if (text is null)
        {
            return null;
        }

        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>Freezes or thaws through the freezer and waits until the kernel reports it done, within the deadline.</summary>
    public async Task SetFrozenAsync(bool frozen, TimeSpan timeout, string containerName, CancellationToken cancellationToken)
    {
        string stateFile;
        string want;
        string readFile;
        Func<string, bool> done;
        if (_v1Paths.TryGetValue("freezer", out var freezer))
        {
            stateFile = Path.Combine(freezer, "freezer.state");
            want = frozen ? "FROZEN" : "THAWED";
            readFile = stateFile;
            done = text => text.Trim() == want;
        }
        else if (_v2Path is not null && _fileSystem.File.Exists(Path.Combine(_v2Path, "cgroup.freeze")))
        {
            stateFile = Path.Combine(_v2Path, "cgroup.freeze");
            want = frozen ? "1" : "0";
            readFile = Path.Combine(_v2Path, "cgroup.events");
            done = text => text.Split('\n').Contains("frozen " + want);
        }
        else
        {
            throw new ContainerException(VirtErrorKind.Refused, $"cannot {(frozen ? "freeze" : "thaw")} container '{containerName}': this host has no cgroup freezer ({_layout}); enable the freezer controller");
        }

        await _fileSystem.File.WriteAllTextAsync(stateFile, want, cancellationToken).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(1);
        while (!done(await _fileSystem.File.ReadAllTextAsync(readFile, cancellationToken).ConfigureAwait(false)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"container '{containerName}' did not become {(frozen ? "frozen" : "thawed")} within {timeout.TotalSeconds:0.###} s ({readFile}): a process may be in uninterruptible sleep; try again or kill the container");
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 50));
        }
    }

    public bool IsFrozen()
    {
        if (_v1Paths.TryGetValue("freezer", out var freezer))
        {
            var path = Path.Combine(freezer, "freezer.state");
            return _fileSystem.File.Exists(path) && _fileSystem.File.ReadAllText(path).Trim() == "FROZEN";
        }

        var events = _v2Path is null ? null : Path.Combine(_v2Path, "cgroup.events");
        return events is not null && _fileSystem.File.Exists(events) && _fileSystem.File.ReadAllText(events).Split('\n').Contains("frozen 1");
    }
}
