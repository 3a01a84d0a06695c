using Virt.Network.Firewall;
using Virt.Networking;

namespace Virt.Network.Tests.Firewall;

public sealed class NftablesCounterReaderTests
{
    [Fact]
    public void Counters_are_named_by_scope_and_handle_through_the_port_their_chain_belongs_to()
    {
        const string Bridge = """
            {"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "bridge", "name": "virt"}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-in", "comment": "scope port:vm:a/net0", "expr": [{"counter": {"packets": 9, "bytes": 900}}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-in", "comment": "infra:arp", "expr": [{"counter": {"packets": 1, "bytes": 42}}, {"accept": null}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-in", "comment": "group:web#0 http", "expr": [{"counter": {"packets": 2, "bytes": 120}}, {"accept": null}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-in", "comment": "group:web#0 http", "expr": [{"counter": {"packets": 3, "bytes": 180}}, {"accept": null}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-in", "comment": "port:vm:a/net0#1", "expr": [{"counter": {"packets": 4, "bytes": 400}}, {"drop": null}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-in", "comment": "default-in", "expr": [{"counter": {"packets": 5, "bytes": 500}}, {"drop": null}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-out", "comment": "scope port:vm:a/net0", "expr": [{"counter": {"packets": 9, "bytes": 900}}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "port-tap0-out", "comment": "anti-spoofing:mac", "expr": [{"counter": {"packets": 6, "bytes": 600}}, {"drop": null}]}},
             {"rule": {"family": "bridge", "table": "virt", "chain": "fingerprint", "comment": "fingerprint:0123456789abcdef", "expr": [{"counter": {"packets": 0, "bytes": 0}}]}}]}
            """;
        const string Inet = """
            {"nftables": [{"rule": {"family": "inet", "table": "virt", "chain": "nat-postrouting", "comment": "nat:lab", "expr": [{"counter": {"packets": 7, "bytes": 700}}, {"masquerade": null}]}}]}
            """;

        var counters = NftablesCounterReader.Read([Bridge, Inet]);

        Assert.Equal(
            [
                new FirewallRuleCounter("group:web via port:vm:a/net0", "0", 5, 300),
                new FirewallRuleCounter("port:vm:a/net0", "1", 4, 400),
                new FirewallRuleCounter("port:vm:a/net0", "default-in", 5, 500),
                new FirewallRuleCounter("port:vm:a/net0", "anti-spoofing:mac", 6, 600),
                new FirewallRuleCounter("network:lab", "masquerade", 7, 700),
            ],
            counters);
    }
}
