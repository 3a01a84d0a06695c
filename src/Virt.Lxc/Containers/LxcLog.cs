using System.Text.RegularExpressions;
using Virt.Containers;

namespace Virt.Lxc.Containers;

/// <summary>
/// Reads LXC's per-call logs. <c>lxc-start</c> only prints "Received container state ABORTING instead of
/// RUNNING"; the real cause (a missing bridge, a rootfs, an exec, AppArmor, an id map, a cgroup) is in
/// the ERROR lines of the log, which this turns into a <see cref="ContainerStartFailure"/> and a fix.
/// </summary>
internal static partial class LxcLog
{
    /// <summary>The ERROR lines of a log.</summary>
    public static IReadOnlyList<string> Errors(string log) =>
        log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(line => line.Contains(" ERROR ", StringComparison.Ordinal)).ToList();

    /// <summary>The message part of a log line ("source.c:function:line - message").</summary>
    public static string Message(string line)
    {
        var match = MessagePattern().Match(line);
        return match.Success ? match.Groups[1].Value : line;
    }

    /// <summary>The cause of a failed start and what to do about it.</summary>
    public static (ContainerStartFailure Failure, string Message) Diagnose(IReadOnlyList<string> errors)
    {
        foreach (var line in errors)
        {
            var message = Message(line);
            if (line.Contains("bridge interface doesn't exist", StringComparison.Ordinal) || (line.Contains("network.c", StringComparison.Ordinal) && message.Contains("No such device", StringComparison.Ordinal)))
            {
                return (ContainerStartFailure.MissingNetworkLink, message + ": create the bridge or parent interface first, or change ContainerNic.Link");
            }

            if (line.Contains("lxc_rootfs", StringComparison.Ordinal) || line.Contains("rootfs", StringComparison.OrdinalIgnoreCase) && line.Contains("conf.c", StringComparison.Ordinal))
            {
                return (ContainerStartFailure.Rootfs, message + ": check that the rootfs exists and is a directory");
            }

            if (message.Contains("Failed to exec", StringComparison.Ordinal))
            {
                return (ContainerStartFailure.Init, message + ": the init command must exist and be executable inside the rootfs");
            }

            if (line.Contains("apparmor", StringComparison.OrdinalIgnoreCase))
            {
                return (ContainerStartFailure.AppArmor, message + ": load the profile, or set ContainerSpec.AppArmorProfile to 'unconfined'");
            }

            if (line.Contains("idmap", StringComparison.OrdinalIgnoreCase) || line.Contains("uid_map", StringComparison.Ordinal) || line.Contains("gid_map", StringComparison.Ordinal) || line.Contains("lxc_map_ids", StringComparison.Ordinal))
            {
                return (ContainerStartFailure.IdMap, message + ": give root a subordinate id range in /etc/subuid and /etc/subgid (root:100000:65536)");
            }

            if (line.Contains("cgfsng", StringComparison.Ordinal) || line.Contains("cgroup", StringComparison.Ordinal))
            {
                return (ContainerStartFailure.Cgroup, message + ": a limit or controller is not available on this host; check the spec's limits");
            }

            if (line.Contains("mount", StringComparison.OrdinalIgnoreCase))
            {
                return (ContainerStartFailure.Mount, message + ": check the mount's source exists");
            }
        }

        var last = errors.Count == 0 ? "LXC logged no error" : Message(errors[0]);
        return (ContainerStartFailure.Unknown, last);
    }

    [GeneratedRegex(":[0-9]+ - (.*)\\z")]
    private static partial Regex MessagePattern();
}
