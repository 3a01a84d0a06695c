using System.Globalization;
using System.IO.Abstractions;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Host;
using Virt.Lxc.Hosting;
using Virt.Lxc.Limits;
using Virt.Networking;

namespace Virt.Lxc.Config;

/// <summary>
/// Turns a <see cref="ContainerSpec"/> into the LXC config file the SDK owns. Written fresh before each
/// start from the stored spec and the host as it is then (cgroup layout, AppArmor), through
/// <see cref="LxcConfig"/>, which refuses any value LXC would split, trim or unquote.
/// </summary>
internal static class ContainerConfigBuilder
{
    /// <param name="record">The container.</param>
    /// <param name="paths">Its files.</param>
    /// <param name="layout">The host's cgroup layout.</param>
    /// <param name="options">The backend's options.</param>
    /// <param name="appArmorEnabled">Whether AppArmor is on.</param>
    /// <param name="fileSystem">The file system seam.</param>
    /// <param name="networkPorts">The prepared ports of the NICs on managed networks, by NIC index: their bridge, MTU and fixed address.</param>
    /// <param name="limitKeys">The config key each limit was written under.</param>
    public static LxcConfig Build(ContainerRecord record, ContainerPaths paths, CgroupLayout layout, LxcOptions options, bool appArmorEnabled, IFileSystem fileSystem, IReadOnlyDictionary<int, NetworkPort> networkPorts, out IReadOnlyDictionary<CgroupLimit, string> limitKeys)
    {
        var spec = record.Spec;
        var config = new LxcConfig()
            .Add("lxc.uts.name", spec.Hostname ?? spec.Name)
            .Add("lxc.rootfs.path", (record.RootfsIsImage ? "loop:" : "dir:") + record.RootfsPath);
        if (spec.Unprivileged && spec.Rootfs.Kind == ContainerRootfsKind.Directory)
        {
            // The SDK does not rewrite the owner of a directory it does not own: the kernel maps it at mount time instead.
            config.Add("lxc.rootfs.options", "idmap=container");
        }

        var init = spec.Init ?? record.ImageInit;
        config.Add("lxc.init.cmd", init is null ? "/sbin/init" : string.Join(' ', init.Command));
        if (init?.WorkingDirectory is { } cwd)
        {
            config.Add("lxc.init.cwd", cwd);
        }

        foreach (var (name, value) in init?.Environment ?? new Dictionary<string, string>())
        {
            config.Add("lxc.environment", name + "=" + value);
        }

        if (spec.Init is null && spec.Rootfs.Kind == ContainerRootfsKind.Busybox)
        {
            // busybox init halts on SIGUSR1 and reboots on SIGTERM, not on LXC's default SIGPWR/SIGINT.
            config.Add("lxc.signal.halt", "SIGUSR1").Add("lxc.signal.reboot", "SIGTERM");
        }
        else if (init is not null && record.ImageInit is not null && spec.Init is null)
        {
            // An application image's entrypoint expects SIGTERM, as under any OCI runtime.
            config.Add("lxc.signal.halt", "SIGTERM");
        }

        config.Add("lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed")
            .Add("lxc.autodev", "1")
            .Add("lxc.tty.max", "0")
            .Add("lxc.pty.max", "16")
            .Add("lxc.console.logfile", paths.ConsoleLog)
            .Add("lxc.console.size", "auto");

        AddNetwork(config, spec, paths, networkPorts);
        foreach (var mount in spec.Mounts)
        {
            var target = mount.Target.TrimStart('/');
            var readOnly = mount.ReadOnly ? ",ro" : string.Empty;
            config.Add("lxc.mount.entry", mount.Kind == ContainerMountKind.Bind
                ? $"{mount.Source} {target} none bind{readOnly},create={(fileSystem.Directory.Exists(mount.Source) ? "dir" : "file")} 0 0"
                : $"tmpfs {target} tmpfs {(mount.SizeMiB is { } size ? "size=" + size.ToString(CultureInfo.InvariantCulture) + "m," : string.Empty)}nosuid,nodev{readOnly},create=dir 0 0");
        }

        if (spec.Unprivileged)
        {
            var map = $"0 {options.IdMapBase.ToString(CultureInfo.InvariantCulture)} {options.IdMapSize.ToString(CultureInfo.InvariantCulture)}";
            config.Add("lxc.idmap", "u " + map).Add("lxc.idmap", "g " + map);
        }

        if (spec.Capabilities.Drop.Count > 0)
        {
            config.Add("lxc.cap.drop", string.Join(' ', spec.Capabilities.Drop));
        }

        if (spec.Capabilities.Keep.Count > 0)
        {
            config.Add("lxc.cap.keep", string.Join(' ', spec.Capabilities.Keep));
        }

        config.Add("lxc.apparmor.profile", spec.AppArmorProfile ?? (appArmorEnabled ? "generated" : "unconfined"));
        if (spec.Autostart)
        {
            config.Add("lxc.start.auto", "1");
        }

        var keys = new Dictionary<CgroupLimit, string>();
        foreach (var limit in CgroupLimit.From(spec.Limits))
        {
            var v1 = options.CgroupKeys switch
            {
                LxcCgroupKeys.V1 => true,
                LxcCgroupKeys.V2 => false,
                _ => layout.IsV1(limit.Controller),
            };
            if (v1)
            {
                if (limit.V1File == "cpu.cfs_quota_us")
                {
                    config.Add("lxc.cgroup.cpu.cfs_period_us", "100000");
                }

                config.Add(limit.V1Key, limit.V1Value);
                keys[limit] = limit.V1Key;
            }
            else
            {
                config.Add(limit.V2Key, limit.V2Value);
                keys[limit] = limit.V2Key;
            }
        }

        limitKeys = keys;
        return config;
    }

    private static void AddNetwork(LxcConfig config, ContainerSpec spec, ContainerPaths paths, IReadOnlyDictionary<int, NetworkPort> networkPorts)
    {
        if (spec.Network.Count == 0)
        {
            // A network namespace with loopback only; without any lxc.net entry LXC would share the host's.
            config.Add("lxc.net.0.type", "empty");
            return;
        }

        for (var i = 0; i < spec.Network.Count; i++)
        {
            var nic = spec.Network[i];

            // A NIC on a managed network takes the network's MTU and fixed address; LXC leaves its host end on no bridge:
            // the network connects it once it exists (INetworkPorts.ConnectAsync), wherever the bridge is — in another
            // network namespace LXC could not reach it.
            var port = networkPorts.GetValueOrDefault(i);
            var prefix = $"lxc.net.{i.ToString(CultureInfo.InvariantCulture)}.";
            config.Add(prefix + "type", nic.Kind == ContainerNicKind.Veth ? "veth" : "macvlan");
            if (port is null)
            {
                config.Add(prefix + "link", nic.Link);
            }

            config.Add(prefix + "flags", "up")
                .Add(prefix + "name", nic.Name ?? "eth" + i.ToString(CultureInfo.InvariantCulture));
            if (nic.Kind == ContainerNicKind.Veth)
            {
                // A name the SDK chose, so it can check after stop that the host end is gone.
                config.Add(prefix + "veth.pair", paths.HostInterfaceName(i));
            }
            else
            {
                config.Add(prefix + "macvlan.mode", "bridge");
            }

            if (ManagedNics.MacAddress(spec, i) is { } mac)
            {
                config.Add(prefix + "hwaddr", mac);
            }

            if ((nic.Mtu ?? port?.Mtu) is { } mtu)
            {
                config.Add(prefix + "mtu", mtu.ToString(CultureInfo.InvariantCulture));
            }

            // On a managed network the port's fixed address (with the network's prefix) and its gateway; without one, DHCP's
            // lease (the port names the gateway even then, but LXC cannot route through it from an interface without an address).
            var (address, gateway) = nic.Network is null ? (nic.Ipv4Address, nic.Ipv4Gateway)
                : port?.Ipv4Address is { } fixedAddress ? (fixedAddress, port.Ipv4Gateway) : (null, null);
            if (address is not null)
            {
                config.Add(prefix + "ipv4.address", address);
            }

            if (gateway is not null)
            {
                config.Add(prefix + "ipv4.gateway", gateway);
            }
        }
    }
}
