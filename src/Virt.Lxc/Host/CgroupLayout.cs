using System.IO.Abstractions;

namespace Virt.Lxc.Host;

/// <summary>
/// Where each cgroup controller lives on this host: on a v1 hierarchy of its own (the hybrid layout
/// of these machines), or on the unified v2 hierarchy. Read from <c>/proc/self/mountinfo</c> and the v2
/// root's <c>cgroup.controllers</c>.
/// </summary>
internal sealed class CgroupLayout
{
    private readonly Dictionary<string, string> _v1Mounts;
    private readonly HashSet<string> _v2Controllers;

    private readonly List<string> _allV1Mounts;

    private CgroupLayout(Dictionary<string, string> v1Mounts, List<string> allV1Mounts, string? unifiedMount, HashSet<string> v2Controllers)
    {
        _v1Mounts = v1Mounts;
        _allV1Mounts = allV1Mounts;
        UnifiedMount = unifiedMount;
        _v2Controllers = v2Controllers;
    }

    /// <summary>The cgroup2 mount, if any.</summary>
    public string? UnifiedMount { get; }

    /// <summary>Whether some controllers are on v1 while a v2 hierarchy exists.</summary>
    public bool IsHybrid => _v1Mounts.Count > 0 && UnifiedMount is not null;

    public static CgroupLayout Detect(IFileSystem fileSystem)
    {
        var v1 = new Dictionary<string, string>(StringComparer.Ordinal);
        var allV1 = new List<string>();
        string? unified = null;
        foreach (var line in fileSystem.File.ReadAllLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }

            var fields = line[..separator].Split(' ');
            var tail = line[(separator + 3)..].Split(' ');
            if (fields.Length < 5 || tail.Length < 3)
            {
                continue;
            }

            var mountPoint = fields[4];
            if (tail[0] == "cgroup2")
            {
                unified ??= mountPoint;
            }
            else if (tail[0] == "cgroup")
            {
                // Named hierarchies (name=systemd) hold no controller but LXC creates cgroups there too.
                allV1.Add(mountPoint);
                foreach (var option in tail[2].Split(','))
                {
                    if (option is not ("rw" or "ro") && !option.StartsWith("name=", StringComparison.Ordinal) && !option.Contains('=', StringComparison.Ordinal))
                    {
                        v1.TryAdd(option, mountPoint);
                    }
                }
            }
        }

        var v2 = new HashSet<string>(StringComparer.Ordinal);
        if (unified is not null && fileSystem.File.Exists(Path.Combine(unified, "cgroup.controllers")))
        {
            foreach (var controller in fileSystem.File.ReadAllText(Path.Combine(unified, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                v2.Add(controller);
            }
        }

        return new CgroupLayout(v1, allV1, unified, v2);
    }

    /// <summary>Every hierarchy's mount point (v1 ones, named ones and the unified one), once each.</summary>
    public IReadOnlyList<string> Hierarchies => _allV1Mounts.Append(UnifiedMount).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Whether the controller is on a v1 hierarchy.</summary>
    public bool IsV1(string controller) => _v1Mounts.ContainsKey(controller);

    /// <summary>Whether the controller is available at all (v1, or enabled at the v2 root).</summary>
    public bool Has(string controller) => _v1Mounts.ContainsKey(controller) || _v2Controllers.Contains(controller);

    /// <summary>The v1 mount of a controller.</summary>
    public string? V1Mount(string controller) => _v1Mounts.GetValueOrDefault(controller);

    /// <summary>A short description for messages: "hybrid (v1: cpu memory ...; v2: none)".</summary>
    public override string ToString() =>
        (IsHybrid ? "hybrid" : _v1Mounts.Count > 0 ? "v1" : "v2") +
        $" (v1: {(_v1Mounts.Count == 0 ? "none" : string.Join(' ', _v1Mounts.Keys.Order(StringComparer.Ordinal)))}; v2: {(_v2Controllers.Count == 0 ? "none" : string.Join(' ', _v2Controllers.Order(StringComparer.Ordinal)))})";
}
