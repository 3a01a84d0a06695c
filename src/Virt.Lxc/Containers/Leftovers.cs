using Virt.Containers;

namespace Virt.Lxc.Containers;

/// <summary>
/// Finds and removes what a container can leave on the host after a crash or a failed start: the host
/// ends of its veths (named by the SDK, so found by name, never by pattern) and its cgroup directories
/// (<c>lxc.payload.&lt;name&gt;</c> and <c>lxc.monitor.&lt;name&gt;</c> in every hierarchy) — LXC refuses to start
/// again while a stale monitor cgroup exists.
/// </summary>
internal static class Leftovers
{
    public static IReadOnlyList<string> Find(LxcContext context, ContainerSpec spec)
    {
        var found = new List<string>();
        var paths = context.PathsOf(spec.Name);
        for (var i = 0; i < spec.Network.Count; i++)
        {
            if (spec.Network[i].Kind == ContainerNicKind.Veth && Directory.Exists("/sys/class/net/" + paths.HostInterfaceName(i)))
            {
                found.Add("veth " + paths.HostInterfaceName(i));
            }
        }

        foreach (var directory in CgroupDirectories(context, spec.Name))
        {
            found.Add("cgroup " + directory);
        }

        return found;
    }

    public static async Task RemoveAsync(LxcContext context, ContainerSpec spec, CancellationToken cancellationToken)
    {
        var paths = context.PathsOf(spec.Name);
        var removed = new List<string>();
        for (var i = 0; i < spec.Network.Count; i++)
        {
            var name = paths.HostInterfaceName(i);
            if (spec.Network[i].Kind == ContainerNicKind.Veth && Directory.Exists("/sys/class/net/" + name))
            {
                await context.Processes.RunAsync(new Processes.ProcessSpec("ip", ["link", "del", name]) { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false);
                removed.Add("veth " + name);
            }
        }

        // LXC's monitor can still be leaving its cgroup for a moment after a failed start: retry briefly.
        var until = context.Time.GetUtcNow() + TimeSpan.FromSeconds(3);
        while (true)
        {
            var remaining = 0;
            foreach (var directory in CgroupDirectories(context, spec.Name).ToList())
            {
                if (TryRemoveCgroup(directory))
                {
                    removed.Add("cgroup " + directory);
                }
                else
                {
                    remaining++;
                }
            }

            if (remaining == 0 || context.Time.GetUtcNow() > until)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }

        if (removed.Count > 0)
        {
            Log.LeftoversRemoved(context.Logger, spec.Name, string.Join(", ", removed));
        }
    }

    private static IEnumerable<string> CgroupDirectories(LxcContext context, string name)
    {
        // LXC names them lxc.payload.NAME and lxc.monitor.NAME, or NAME-1, NAME-2... when the plain name is taken.
        foreach (var hierarchy in context.Layout.Hierarchies)
        {
            foreach (var prefix in new[] { "lxc.payload.", "lxc.monitor." })
            {
                var exact = prefix + name;
                foreach (var directory in Directory.EnumerateDirectories(hierarchy, exact + "*"))
                {
                    var suffix = Path.GetFileName(directory)[exact.Length..];
                    if (suffix.Length == 0 || (suffix[0] == '-' && suffix.Length > 1 && suffix[1..].All(char.IsAsciiDigit)))
                    {
                        yield return directory;
                    }
                }
            }
        }
    }

    /// <summary>Removes a cgroup directory bottom-up with rmdir (its files are the kernel's); fails while processes remain.</summary>
    private static bool TryRemoveCgroup(string directory)
    {
        try
        {
            foreach (var child in Directory.GetDirectories(directory))
            {
                TryRemoveCgroup(child);
            }

            Directory.Delete(directory, recursive: false);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
