#!/usr/bin/env bash
# The CLI floor for the network benchmark: builds, inside network namespace $1, the same end state as the SDK's
# benchmark — $2 bridges with a gateway address each, $3 veth ports per bridge (host end on the bridge, up, with an
# alias), and per port an nftables chain pair in a bridge-family table with anti-spoofing (source MAC, ARP sender MAC
# and address, IPv4 source — what the SDK checks, less its IPv6 and DHCP rules and shared infrastructure chains) and
# three rules, dispatched by verdict maps on the port's name — the way a script using the tools would: one `ip` or
# `nft` process per object. Prints the elapsed milliseconds. Run by `Virt.Benchmarks network`; never outside a
# namespace the benchmark made.
set -euo pipefail
ns=$1 networks=$2 ports=$3
inns() { ip netns exec "$ns" "$@"; }
started=$(date +%s%N)
inns nft add table bridge clifloor
inns nft add map bridge clifloor out-ports '{ type ifname : verdict; }'
inns nft add map bridge clifloor in-ports '{ type ifname : verdict; }'
inns nft add chain bridge clifloor forward '{ type filter hook forward priority 0; policy accept; }'
inns nft add rule bridge clifloor forward iifname vmap @out-ports
inns nft add rule bridge clifloor forward oifname vmap @in-ports
for ((n = 0; n < networks; n++)); do
  bridge=$(printf 'cb%d' "$n")
  inns ip link add "$bridge" type bridge
  inns ip addr add "10.$((n / 250)).$((n % 250)).1/24" dev "$bridge"
  inns ip link set "$bridge" up
  for ((p = 0; p < ports; p++)); do
    port=$(printf 'cp%d-%d' "$n" "$p") mac=$(printf '02:00:00:%02x:%02x:%02x' $((n / 256)) $((n % 256)) "$p")
    ip4="10.$((n / 250)).$((n % 250)).$((p + 10))"
    inns ip link add "$port" type veth peer name "${port}p"
    inns ip link set "$port" master "$bridge"
    inns ip link set "$port" up
    inns ip link set dev "$port" alias "virt:port:vm:b$n-$p/net0"
    inns nft add chain bridge clifloor "$port-out"
    inns nft add chain bridge clifloor "$port-in"
    inns nft add rule bridge clifloor "$port-out" ether saddr != "$mac" counter drop
    inns nft add rule bridge clifloor "$port-out" arp saddr ether != "$mac" counter drop
    inns nft add rule bridge clifloor "$port-out" arp saddr ip != "{ 0.0.0.0, $ip4 }" counter drop
    inns nft add rule bridge clifloor "$port-out" ether type ip ip saddr != "$ip4" counter drop
    inns nft add rule bridge clifloor "$port-in" tcp dport 22 counter accept
    inns nft add rule bridge clifloor "$port-in" tcp dport 80 counter accept
    inns nft add rule bridge clifloor "$port-in" icmp type echo-request counter drop
    inns nft add element bridge clifloor out-ports "{ \"$port\" : jump $port-out }"
    inns nft add element bridge clifloor in-ports "{ \"$port\" : jump $port-in }"
  done
done
echo $(( ($(date +%s%N) - started) / 1000000 ))
