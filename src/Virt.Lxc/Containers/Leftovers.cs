using System.IO.Abstractions;
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
            if (spec.Network[i].Kind == ContainerNicKind.Veth && context.FileSystem.Directory.Exists("/sys/class/net/" + paths.HostInterfaceName(i)))
            {
                found.Add("veth " + paths.HostInterfaceName(i));
            }
        }

        foreach (var directory in CgroupDirectories(context, spec.Name, thorough: true))
        {
            found.Add("cgroup " + directory);
        }

        return found;
    }

    /// <param name="context">The manager's context.</param>
    /// <param name="spec">The container.</param>
    /// <param name="settle">How long to keep retrying cgroups that are still busy (LXC's monitor may be leaving them); zero for one pass.</param>
    /// <param name="thorough">Also look for LXC's numbered cgroups (NAME-1...), which only a failed start or a crash leaves.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public static async Task RemoveAsync(LxcContext context, ContainerSpec spec, TimeSpan settle, bool thorough, CancellationToken cancellationToken)
    {
        var paths = context.PathsOf(spec.Name);
        var removed = new List<string>();
        for (var i = 0; i < spec.Network.Count; i++)
        {
            var name = paths.HostInterfaceName(i);
            if (spec.Network[i].Kind == ContainerNicKind.Veth && context.FileSystem.Directory.Exists("/sys/class/net/" + name))
            {
                await context.Processes.RunAsync(new Processes.ProcessSpec("ip", ["link", "del", name]) { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false);
                removed.Add("veth " + name);
            }
        }

        // LXC's monitor can still be leaving its cgroup for a moment after a failed start: retry briefly.
        var until = context.Time.GetUtcNow() + settle;
        while (true)
        {
            var remaining = 0;
            foreach (var directory in CgroupDirectories(context, spec.Name, thorough).ToList())
            {
                if (TryRemoveCgroup(context.FileSystem, directory))
                {
                    removed.Add("cgroup " + directory);
                }
                else
                {
                    remaining++;
                }
            }

            if (remaining == 0 || context.Time.GetUtcNow() >= until)
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

    /// <summary>
    /// LXC names them lxc.payload.NAME and lxc.monitor.NAME, or NAME-1, NAME-2... when the plain name was
    /// taken. <paramref name="thorough"/> lists each hierarchy for the numbered ones; otherwise only the
    /// plain names are looked up (a stat each), which is all a clean stop can leave.
    /// </summary>
    private static IEnumerable<string> CgroupDirectories(LxcContext context, string name, bool thorough)
    {
        var payload = "lxc.payload." + name;
        var monitor = "lxc.monitor." + name;
        foreach (var hierarchy in context.Layout.Hierarchies)
        {
            if (!thorough)
            {
                foreach (var exact in new[] { payload, monitor })
                {
                    var directory = Path.Combine(hierarchy, exact);
                    if (context.FileSystem.Directory.Exists(directory))
                    {
                        yield return directory;
                    }
                }

                continue;
            }

            foreach (var directory in context.FileSystem.Directory.EnumerateDirectories(hierarchy, "lxc.*"))
            {
                var entry = Path.GetFileName(directory);
                foreach (var exact in new[] { payload, monitor })
                {
                    if (entry.StartsWith(exact, StringComparison.Ordinal))
                    {
                        var suffix = entry[exact.Length..];
                        if (suffix.Length == 0 || (suffix[0] == '-' && suffix.Length > 1 && suffix[1..].All(char.IsAsciiDigit)))
                        {
                            yield return directory;
                        }
                    }
                }
            }
        }
    }

    /// <summary>Removes a cgroup directory bottom-up with rmdir (its files are the kernel's); fails while processes remain.</summary>
    private static bool TryRemoveCgroup(IFileSystem fileSystem, string directory)
    {
        try
        {
            foreach (var child in fileSystem.Directory.GetDirectories(directory))
            {
                TryRemoveCgroup(fileSystem, child);
            }

            fileSystem.Directory.Delete(directory, recursive: false);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
