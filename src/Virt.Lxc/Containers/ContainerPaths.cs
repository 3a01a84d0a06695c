using System.Globalization;
using System.Text;

namespace Virt.Lxc.Containers;

/// <summary>The files of one container under the LXC path: LXC's own (config, rootfs) and the SDK's (record, logs).</summary>
internal sealed record ContainerPaths(string LxcPath, string Name)
{
    public string Directory => Path.Combine(LxcPath, Name);

    public string Config => Path.Combine(Directory, "config");

    public string Rootfs => Path.Combine(Directory, "rootfs");

    /// <summary>Where a rootfs is built before it is moved into place, so a crash never leaves a half one at <see cref="Rootfs"/>.</summary>
    public string RootfsStaging => Path.Combine(Directory, ".rootfs-staging");

    public string Record => Path.Combine(Directory, "virt-container.json");

    public string Logs => Path.Combine(Directory, "logs");

    public string ConsoleLog => Path.Combine(Directory, "console.log");

    /// <summary>
    /// The host end of veth <paramref name="index"/>: "vc" + 8 hex digits of a hash of the LXC path and
    /// name + the index (at most 15 characters, unique per container, stable across restarts).
    /// </summary>
    public string HostInterfaceName(int index)
    {
        // FNV-1a: stable across processes, unlike string.GetHashCode.
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(LxcPath.TrimEnd('/') + "/" + Name))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return "vc" + hash.ToString("x8", CultureInfo.InvariantCulture) + index.ToString(CultureInfo.InvariantCulture);
    }
}
