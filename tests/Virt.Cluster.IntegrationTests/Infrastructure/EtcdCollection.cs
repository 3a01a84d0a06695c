namespace Virt.Cluster.IntegrationTests.Infrastructure;

/// <summary>The tests that share one etcd cluster (each under its own key prefix) and never stop its members.</summary>
[CollectionDefinition(Name)]
public sealed class EtcdCollection : ICollectionFixture<EtcdCluster>
{
    public const string Name = "etcd";
}
