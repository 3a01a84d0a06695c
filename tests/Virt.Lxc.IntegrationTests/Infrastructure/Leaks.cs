namespace Virt.Lxc.IntegrationTests.Infrastructure;

/// <summary>What a container could leave on the host, looked up by the names it owns.</summary>
internal static class Leaks
{
    /// <summary>Cgroup directories LXC creates for the container, in every hierarchy.</summary>
    public static IReadOnlyList<string> CgroupsOf(string name) =>
        Directory.GetDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup")
            .SelectMany(hierarchy => Directory.EnumerateDirectories(hierarchy, "lxc.payload." + name + "*").Concat(Directory.EnumerateDirectories(hierarchy, "lxc.monitor." + name + "*")))
            .Where(directory => Path.GetFileName(directory).EndsWith("." + name, StringComparison.Ordinal) || Path.GetFileName(directory).Contains("." + name + "-", StringComparison.Ordinal))
            .ToList();

    /// <summary>Processes whose command line mentions the LXC path (LXC's monitor names the path and container).</summary>
    public static IReadOnlyList<string> ProcessesMentioning(string lxcPath) =>
        Directory.GetDirectories("/proc")
            .Where(directory => int.TryParse(Path.GetFileName(directory), out _))
            .Select(directory => { try { return File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' '); } catch (IOException) { return string.Empty; } })
            .Where(cmdline => cmdline.Contains(lxcPath, StringComparison.Ordinal))
            .ToList();

    /// <summary>Mounts whose mount point is under the LXC path.</summary>
    public static IReadOnlyList<string> MountsUnder(string lxcPath) =>
        File.ReadAllLines("/proc/self/mountinfo").Where(line => line.Contains(" " + lxcPath, StringComparison.Ordinal)).ToList();
}
