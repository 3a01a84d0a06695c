using Virt.Lxc.Host;

namespace Virt.Lxc.Limits;

/// <summary>
/// Reads every limit back from cgroupfs after start. LXC on a hybrid host ignores <c>lxc.cgroup2.*</c> keys
/// with only a warning and starts the container unlimited (LXC-NOTES); this is where that is caught.
/// </summary>
internal static class LimitVerifier
{
    /// <summary>Each limit not in effect: what was asked, the key written, the file read and what it holds.</summary>
    /// <param name="limits">Each limit with the LXC key it was written with.</param>
    /// <param name="cgroups">The container's cgroups.</param>
    public static IReadOnlyList<string> FindMismatches(IReadOnlyDictionary<CgroupLimit, string> limits, ContainerCgroups cgroups)
    {
        var mismatches = new List<string>();
        foreach (var (limit, key) in limits)
        {
            var v1 = cgroups.IsV1(limit.Controller);
            var path = cgroups.FileOf(limit.Controller, limit.V1File, limit.V2File);
            if (path is null)
            {
                mismatches.Add($"{limit.Description}: the container's {limit.Controller} cgroup has no {(v1 ? limit.V1File : limit.V2File)}, so {key} cannot be in effect (the controller is missing or disabled on this host)");
                continue;
            }

            var actual = cgroups.Read(limit.Controller, limit.V1File, limit.V2File) ?? string.Empty;
            if (!limit.Matches(actual, v1))
            {
                mismatches.Add($"{limit.Description}: {key} was written, but {path} holds '{actual}', not '{(v1 ? limit.V1Value : limit.V2Value)}' — the {limit.Controller} controller is on cgroup {(v1 ? "v1" : "v2")} here; let LxcOptions.CgroupKeys be Auto");
            }
        }

        return mismatches;
    }
}
