namespace Virt.Cluster.IntegrationTests.Infrastructure;

/// <summary>
/// The tests that share one etcd cluster (each under its own key prefix) and never stop its members. Not run beside
/// other collections: leases of a few seconds and etcd's fsyncs want the machine's two cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EtcdCollection : ICollectionFixture<EtcdCluster>
{
    public const string Name = "etcd";
}

/// <summary>The tests that stop etcd members: a cluster of their own, run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EtcdQuorumCollection : ICollectionFixture<EtcdCluster>
{
    public const string Name = "etcd-quorum";
}
