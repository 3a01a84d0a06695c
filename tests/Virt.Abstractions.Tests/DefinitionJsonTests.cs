using Virt.Networking;
using Virt.Storage;

namespace Virt.Abstractions.Tests;

/// <summary>The JSON forms of network and pool definitions that the backends keep and a cluster shares.</summary>
public sealed class DefinitionJsonTests
{
    [Fact]
    public void Every_network_kind_round_trips_with_its_kind_and_without_the_computed_bridge_name()
    {
        NetworkDefinition[] definitions =
        [
            new IsolatedNetworkDefinition("iso") { Mtu = 1400 },
            new NatNetworkDefinition("nat", new NetworkSubnet("192.0.2.0/24", "192.0.2.1") { DhcpStart = "192.0.2.10", DhcpEnd = "192.0.2.20" }) { Uplink = "eth0" },
            new RoutedNetworkDefinition("routed", new NetworkSubnet("198.51.100.0/24", "198.51.100.1")),
            new VlanNetworkDefinition("vlan") { TrunkVlans = [10, 20] },
            new VxlanNetworkDefinition("vx", 42, "203.0.113.1") { Peers = ["203.0.113.2"] },
        ];
        foreach (var definition in definitions)
        {
            var json = NetworkDefinitionJson.Serialize(definition);
            Assert.Contains($"\"Kind\":\"{definition.Kind}\"", json, StringComparison.Ordinal);
            Assert.DoesNotContain("EffectiveBridgeName", json, StringComparison.Ordinal);
            var back = NetworkDefinitionJson.Deserialize(json);
            Assert.Equal(definition.GetType(), back.GetType());
            Assert.Equal(json, NetworkDefinitionJson.Serialize(back));
        }
    }

    [Fact]
    public void Every_pool_driver_round_trips_and_bad_documents_are_refused_with_the_fix()
    {
        StoragePoolDefinition[] definitions =
        [
            new DirPoolDefinition("images", "/var/lib/virt/images"),
            new BtrfsPoolDefinition("fast", "/srv/btrfs"),
            new RbdPoolDefinition("shared", "/var/lib/virt/rbd", "/etc/ceph/ceph.conf") { RbdPool = "vms" },
        ];
        foreach (var definition in definitions)
        {
            var json = StoragePoolDefinitionJson.Serialize(definition);
            var back = StoragePoolDefinitionJson.Deserialize(json);
            Assert.Equal(definition.GetType(), back.GetType());
            Assert.Equal(json, StoragePoolDefinitionJson.Serialize(back));
        }

        Assert.Contains("a Driver of dir, btrfs or rbd", Assert.Throws<ArgumentException>(() => StoragePoolDefinitionJson.Deserialize("{\"Driver\":\"zfs\",\"Name\":\"x\",\"Path\":\"/x\"}")).Message, StringComparison.Ordinal);
        Assert.Contains("a Kind of isolated, nat, routed, vlan or vxlan", Assert.Throws<ArgumentException>(() => NetworkDefinitionJson.Deserialize("{\"Name\":\"x\"}")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NetworkDefinitionJson.Deserialize("null"));
    }
}
