using System.Globalization;
using System.IO.Abstractions;
using Virt.Containers;
using Virt.Lxc.Host;
using Virt.Lxc.Hosting;
using Virt.Lxc.Limits;

namespace Virt.Lxc.Containers;

/// <summary>
/// What is checked before <c>lxc-start</c>, so that the usual causes of "ABORTING" become one clear error
/// with its fix: the LXC tools, bridges and parent interfaces, subordinate id ranges for unprivileged
/// containers, the cgroup controllers the limits need, AppArmor for a named profile, mount sources.
/// </summary>
internal static class Preflight
{
    /// <summary>What keeps the container from starting, one line each with its fix; empty when nothing does.</summary>
    /// <param name="context">The manager's context: options, file system, cgroup layout, and what it found once about the host (AppArmor, the tools).</param>
    /// <param name="record">The container.</param>
    public static IReadOnlyList<string> Check(LxcContext context, ContainerRecord record)
    {
        var spec = record.Spec;
        var options = context.Options;
        var fileSystem = context.FileSystem;
        var layout = context.Layout;
        var appArmorEnabled = context.AppArmorEnabled;
        var problems = new List<string>();
        if (!context.LxcStartInstalled)
        {
            problems.Add("lxc-start is not installed: apt-get install lxc");
        }

        if (record.RootfsIsImage ? !fileSystem.File.Exists(record.RootfsPath) : !fileSystem.Directory.Exists(record.RootfsPath))
        {
            problems.Add($"the rootfs '{record.RootfsPath}' does not exist: recreate the container, or restore the directory");
        }

        // A NIC on a managed network has no Link: the network's port names its bridge.
        foreach (var nic in spec.Network.Where(nic => nic.Network is null))
        {
            var device = "/sys/class/net/" + nic.Link;
            if (!fileSystem.Directory.Exists(device))
            {
                problems.Add(nic.Kind == ContainerNicKind.Veth
                    ? $"bridge '{nic.Link}' does not exist: create it (ip link add {nic.Link} type bridge && ip link set {nic.Link} up) or change ContainerNic.Link"
                    : $"interface '{nic.Link}' (macvlan parent) does not exist: change ContainerNic.Link");
            }
            else if (nic.Kind == ContainerNicKind.Veth && !fileSystem.Directory.Exists(device + "/bridge"))
            {
                problems.Add($"'{nic.Link}' exists but is not a bridge: a veth NIC needs a bridge");
            }
        }

        if (spec.Unprivileged)
        {
            foreach (var file in new[] { "/etc/subuid", "/etc/subgid" })
            {
                if (!HasRange(fileSystem, file, options.IdMapBase, options.IdMapSize))
                {
                    problems.Add($"{file} gives root no range covering {options.IdMapBase}-{options.IdMapBase + options.IdMapSize - 1}: add 'root:{options.IdMapBase}:{options.IdMapSize}'");
                }
            }
        }

        foreach (var controller in CgroupLimit.From(spec.Limits).Select(limit => limit.Controller).Distinct())
        {
            if (!layout.Has(controller))
            {
                problems.Add($"the '{controller}' cgroup controller is not available on this host ({layout}): enable it, or drop that limit");
            }
        }

        if (spec.AppArmorProfile is { } profile && profile != "unconfined" && !appArmorEnabled)
        {
            problems.Add($"AppArmor profile '{profile}' was asked for but AppArmor is not enabled on this host: enable it, or set AppArmorProfile to null");
        }

        foreach (var mount in spec.Mounts.Where(mount => mount.Kind == ContainerMountKind.Bind))
        {
            if (!fileSystem.Directory.Exists(mount.Source!) && !fileSystem.File.Exists(mount.Source!))
            {
                problems.Add($"bind mount source '{mount.Source}' does not exist: create it or remove the mount");
            }
        }

        return problems;
    }

    public static bool IsAppArmorEnabled(IFileSystem fileSystem)
    {
        const string Parameter = "/sys/module/apparmor/parameters/enabled";
        return fileSystem.File.Exists(Parameter) && fileSystem.File.ReadAllText(Parameter).Trim() == "Y";
    }

    public static bool ToolExists(LxcOptions options, string tool, IFileSystem fileSystem)
    {
        if (options.ToolsDirectory is not null)
        {
            return fileSystem.File.Exists(Path.Combine(options.ToolsDirectory, tool));
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Any(directory => fileSystem.File.Exists(Path.Combine(directory, tool)));
    }

    private static bool HasRange(IFileSystem fileSystem, string file, int first, int count)
    {
        if (!fileSystem.File.Exists(file))
        {
            return false;
        }

        foreach (var line in fileSystem.File.ReadAllLines(file))
        {
            var parts = line.Split(':');
            if (parts.Length == 3 && parts[0] is "root" or "0"
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                && start <= first && start + length >= (long)first + count)
            {
                return true;
            }
        }

        return false;
    }
}
