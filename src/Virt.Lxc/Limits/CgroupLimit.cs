using System.Globalization;
using Virt.Containers;

namespace Virt.Lxc.Limits;

/// <summary>
/// One limit of a container spec in both cgroup dialects: the LXC key and value to write for v1 and for
/// v2, the file that holds the effective value on each, and how to compare what the kernel reports.
/// </summary>
internal sealed record CgroupLimit(string Description, string Controller, string V1File, string V1Value, string V2File, string V2Value)
{
    public string V1Key => "lxc.cgroup." + V1File;

    public string V2Key => "lxc.cgroup2." + V2File;

    /// <summary>Whether the kernel's text for the file equals what was asked for (cpu lists compared as sets).</summary>
    public bool Matches(string actual, bool v1)
    {
        var expected = v1 ? V1Value : V2Value;
        actual = actual.Trim();
        return Controller == "cpuset" ? CpuList(actual).SetEquals(CpuList(expected)) : actual == expected;
    }

    public static IReadOnlyList<CgroupLimit> From(ContainerLimits limits)
    {
        var list = new List<CgroupLimit>();
        const long MiB = 1024 * 1024;
        if (limits.MemoryMiB is { } memory)
        {
            var bytes = Text(memory * MiB);
            list.Add(new($"memory {memory} MiB", "memory", "memory.limit_in_bytes", bytes, "memory.max", bytes));
            if (limits.SwapMiB is { } swap)
            {
                list.Add(new($"swap {swap} MiB", "memory", "memory.memsw.limit_in_bytes", Text((memory + swap) * MiB), "memory.swap.max", Text(swap * MiB)));
            }
        }

        if (limits.CpuWeight is { } weight)
        {
            // v1 shares default to 1024 where v2's weight defaults to 100.
            list.Add(new($"CPU weight {weight}", "cpu", "cpu.shares", Text(Math.Max(2L, weight * 1024L / 100)), "cpu.weight", Text(weight)));
        }

        if (limits.CpuQuota is { } quota)
        {
            const long Period = 100_000;
            var microseconds = Text((long)Math.Round(quota * Period));
            list.Add(new($"CPU quota {quota.ToString(CultureInfo.InvariantCulture)} cores", "cpu", "cpu.cfs_quota_us", microseconds, "cpu.max", $"{microseconds} {Period}"));
        }

        if (limits.Cpuset is { } cpus)
        {
            list.Add(new($"cpuset {cpus}", "cpuset", "cpuset.cpus", cpus, "cpuset.cpus", cpus));
        }

        if (limits.Pids is { } pids)
        {
            list.Add(new($"pids {pids}", "pids", "pids.max", Text(pids), "pids.max", Text(pids)));
        }

        return list;
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static HashSet<int> CpuList(string text)
    {
        var set = new HashSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            if (int.TryParse(range[0], CultureInfo.InvariantCulture, out var first))
            {
                var last = range.Length == 2 && int.TryParse(range[1], CultureInfo.InvariantCulture, out var end) ? end : first;
                for (var cpu = first; cpu <= last; cpu++)
                {
                    set.Add(cpu);
                }
            }
        }

        return set;
    }
}
