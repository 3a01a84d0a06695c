using System.Globalization;
using System.Net;
using Virt.Network.Host;
using Virt.Network.Planning;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>
/// An in-memory kernel behind <see cref="ILinkHost"/>: each operation changes the link state the way rtnetlink would,
/// and fails the way it would (EEXIST on a duplicate, ENODEV on an unknown link, ENOENT/EADDRNOTAVAIL on a missing
/// entry). A batch stops at the first failure and reports its index, as the netlink client does. A test can make any
/// operation fail with <see cref="FailWhen"/>.
/// </summary>
internal sealed class FakeLinkHost : ILinkHost
{
    private readonly object _gate = new();
    private readonly List<LinkState> _links = [];
    private readonly List<AddressState> _addresses = [];
    private readonly List<RouteState> _routes = [];
    private readonly List<FdbState> _fdb = [];
    private readonly List<PortVlanState> _vlans = [];
    private readonly Dictionary<string, int> _defaultPvids = new(StringComparer.Ordinal);
    private int _nextIndex = 1;

    /// <summary>Fails the first operation that matches, with this errno and message (once).</summary>
    public (Func<LinkOperation, bool> Match, int Errno, string Message)? FailWhen { get; set; }

    public List<IReadOnlyList<LinkOperation>> Batches { get; } = [];

    public int ReadCount { get; private set; }

    /// <summary>A link the host has of its own (an uplink, a tap a backend made, a bridge someone made by hand).</summary>
    public void AddHostLink(string name, string? kind = null, string? alias = null, int mtu = 1500, string? master = null)
    {
        lock (_gate)
        {
            _links.Add(new LinkState(name, _nextIndex++, kind, Mac(), mtu, true, master, alias));
        }
    }

    public void AddHostAddress(string link, string cidr)
    {
        var parts = cidr.Split('/');
        var address = IPAddress.Parse(parts[0]);
        var prefix = int.Parse(parts[1], CultureInfo.InvariantCulture);
        lock (_gate)
        {
            _addresses.Add(new AddressState(link, address, prefix));
            _routes.Add(new RouteState(LinkPlanner.Masked(address, prefix), null, link));
        }
    }

    /// <summary>Removes a link behind the SDK's back (an operator's <c>ip link del</c>).</summary>
    public void DeleteBehindTheSdksBack(string name)
    {
        lock (_gate)
        {
            RemoveLink(name);
        }
    }

    public void SetMtuBehindTheSdksBack(string name, int mtu)
    {
        lock (_gate)
        {
            var i = _links.FindIndex(l => l.Name == name);
            _links[i] = _links[i] with { Mtu = mtu };
        }
    }

    public Task<HostLinkState> ReadAsync(HostLinkParts parts, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ReadCount++;
            return Task.FromResult(new HostLinkState([.. _links], [.. _addresses], [.. _routes], [.. _fdb], [.. _vlans]));
        }
    }

    public Task ApplyAsync(IReadOnlyList<LinkOperation> operations, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Batches.Add(operations);
            for (var i = 0; i < operations.Count; i++)
            {
                if (FailWhen is { } fail && fail.Match(operations[i]))
                {
                    FailWhen = null;
                    throw new NetlinkOperationException(i, operations[i], fail.Errno, fail.Message);
                }

                var errno = Run(operations[i]);
                if (errno != 0)
                {
                    throw new NetlinkOperationException(i, operations[i], errno, Strerror(errno));
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The whole state as sorted lines without ifindexes (a link deleted and made again gets a new one).</summary>
    public string Describe()
    {
        lock (_gate)
        {
            var lines = _links.Select(l => $"link {l.Name} {l.Kind} mtu {l.Mtu} up {l.Up} master {l.Master} alias {l.Alias} vf {l.VlanFiltering} vx {l.Vxlan?.Vni}/{l.Vxlan?.Local}/{l.Vxlan?.Port}")
                .Concat(_addresses.Select(a => $"addr {a.Link} {a.Address}/{a.PrefixLength}"))
                .Concat(_routes.Select(r => $"route {r.Destination} via {r.Gateway} dev {r.Link}"))
                .Concat(_fdb.Select(f => $"fdb {f.Device} {f.MacAddress} {f.Destination}"))
                .Concat(_vlans.Select(v => $"vlan {v.Port} {v.Vlan} {v.Pvid} {v.Untagged}"))
                .Order(StringComparer.Ordinal);
            return string.Join('\n', lines);
        }
    }

    private static string Strerror(int errno) => errno switch
    {
        2 => "No such file or directory",
        3 => "No such process",
        17 => "File exists",
        19 => "No such device",
        22 => "Invalid argument",
        99 => "Cannot assign requested address",
        _ => "error " + errno,
    };

    private string Mac() => string.Create(CultureInfo.InvariantCulture, $"02:00:00:00:{_nextIndex / 256:x2}:{_nextIndex % 256:x2}");

    private LinkState? Find(string name) => _links.Find(l => l.Name == name);

    private void Replace(string name, Func<LinkState, LinkState> change)
    {
        var i = _links.FindIndex(l => l.Name == name);
        _links[i] = change(_links[i]);
    }

    private int Run(LinkOperation operation)
    {
        switch (operation)
        {
            case CreateBridge bridge:
                if (Find(bridge.Name) is not null)
                {
                    return 17;
                }

                _links.Add(new LinkState(bridge.Name, _nextIndex++, "bridge", Mac(), bridge.Mtu ?? 1500, false, null, bridge.Alias) { VlanFiltering = bridge.VlanFiltering });
                _defaultPvids[bridge.Name] = bridge.DefaultPvid;
                return 0;
            case CreateVxlan vxlan:
                if (Find(vxlan.Name) is not null)
                {
                    return 17;
                }

                int? underlay = null;
                if (vxlan.UnderlayInterface is not null)
                {
                    if (Find(vxlan.UnderlayInterface) is not { } under)
                    {
                        return 19;
                    }

                    underlay = under.Index;
                }

                _links.Add(new LinkState(vxlan.Name, _nextIndex++, "vxlan", Mac(), vxlan.Mtu ?? 1450, false, null, vxlan.Alias) { Vxlan = new VxlanState(vxlan.Vni, vxlan.Local, vxlan.Port, false, underlay) });
                return 0;
            case CreateVeth veth:
                if (Find(veth.Name) is not null || Find(veth.PeerName) is not null)
                {
                    return 17;
                }

                _links.Add(new LinkState(veth.Name, _nextIndex++, "veth", Mac(), veth.Mtu ?? 1500, false, null, veth.Alias));
                _links.Add(new LinkState(veth.PeerName, _nextIndex++, "veth", Mac(), veth.Mtu ?? 1500, false, null, null));
                return 0;
            case DeleteLink delete:
                if (Find(delete.Name) is null)
                {
                    return 19;
                }

                RemoveLink(delete.Name);
                return 0;
            case SetLinkUp up:
                return Change(up.Name, l => l with { Up = up.Up });
            case SetMtu mtu:
                return Change(mtu.Name, l => l with { Mtu = mtu.Mtu });
            case SetAlias alias:
                return Change(alias.Name, l => l with { Alias = alias.Alias.Length == 0 ? null : alias.Alias });
            case SetMaster master:
                if (master.Master is not null && Find(master.Master)?.Kind != "bridge")
                {
                    return Find(master.Master) is null ? 19 : 22;
                }

                if (Find(master.Name) is not null)
                {
                    // The kernel drops a port's VLANs when it leaves a bridge, and gives it the default PVID when it joins one.
                    _vlans.RemoveAll(v => v.Port == master.Name);
                    if (master.Master is not null && _defaultPvids.TryGetValue(master.Master, out var pvid))
                    {
                        _vlans.Add(new PortVlanState(master.Name, pvid, true, true));
                    }
                }

                return Change(master.Name, l => l with { Master = master.Master });
            case AddAddress add:
                if (Find(add.Link) is null)
                {
                    return 19;
                }

                if (_addresses.Exists(a => a.Link == add.Link && a.Address.Equals(add.Address)))
                {
                    return 17;
                }

                _addresses.Add(new AddressState(add.Link, add.Address, add.Network.PrefixLength));
                _routes.Add(new RouteState(add.Network, null, add.Link));
                return 0;
            case DeleteAddress delete:
                var removed = _addresses.RemoveAll(a => a.Link == delete.Link && a.Address.Equals(delete.Address));
                _routes.RemoveAll(r => r.Link == delete.Link && r.Gateway is null && r.Destination == delete.Network);
                return removed == 0 ? 99 : 0;
            case AddRoute add:
                if (Find(add.Link) is null)
                {
                    return 19;
                }

                if (_routes.Exists(r => r.Destination == add.Destination && Equals(r.Gateway, add.Gateway) && r.Link == add.Link))
                {
                    return 17;
                }

                _routes.Add(new RouteState(add.Destination, add.Gateway, add.Link));
                return 0;
            case DeleteRoute delete:
                return _routes.RemoveAll(r => r.Destination == delete.Destination && Equals(r.Gateway, delete.Gateway) && r.Link == delete.Link) == 0 ? 3 : 0;
            case AddFdbEntry add:
                if (Find(add.VxlanDevice) is null)
                {
                    return 19;
                }

                if (_fdb.Exists(f => f.Device == add.VxlanDevice && f.MacAddress == add.MacAddress && Equals(f.Destination, add.Destination)))
                {
                    return 17;
                }

                _fdb.Add(new FdbState(add.VxlanDevice, add.MacAddress, add.Destination));
                return 0;
            case DeleteFdbEntry delete:
                return _fdb.RemoveAll(f => f.Device == delete.VxlanDevice && f.MacAddress == delete.MacAddress && Equals(f.Destination, delete.Destination)) == 0 ? 2 : 0;
            case AddPortVlan add:
                if (Find(add.Port) is null)
                {
                    return 19;
                }

                _vlans.RemoveAll(v => v.Port == add.Port && v.Vlan == add.Vlan);
                _vlans.Add(new PortVlanState(add.Port, add.Vlan, add.Pvid, add.Untagged));
                return 0;
            case DeletePortVlan delete:
                return _vlans.RemoveAll(v => v.Port == delete.Port && v.Vlan == delete.Vlan) == 0 ? 2 : 0;
            default:
                return 22;
        }
    }

    private int Change(string name, Func<LinkState, LinkState> change)
    {
        if (Find(name) is null)
        {
            return 19;
        }

        Replace(name, change);
        return 0;
    }

    private void RemoveLink(string name)
    {
        _links.RemoveAll(l => l.Name == name);
        _addresses.RemoveAll(a => a.Link == name);
        _routes.RemoveAll(r => r.Link == name);
        _fdb.RemoveAll(f => f.Device == name);
        _vlans.RemoveAll(v => v.Port == name);
        for (var i = 0; i < _links.Count; i++)
        {
            if (_links[i].Master == name)
            {
                _links[i] = _links[i] with { Master = null };
            }
        }
    }
}
