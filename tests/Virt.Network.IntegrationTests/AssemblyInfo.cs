// Namespaces, nftables tables and dnsmasq processes are host-wide resources; keep the fixtures from racing on two cores.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]
