using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;

namespace Virt.Cluster.IntegrationTests;

[Collection(EtcdCollection.Name)]
public sealed class DefinitionTests(EtcdCluster etcd)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_definition_written_on_one_node_is_read_and_watched_on_the_others_with_its_revision()
    {
        await using var lab = new ClusterLab(etcd);
        var (a, b, c) = (lab.Node("node-a"), lab.Node("node-b"), lab.Node("node-c"));
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(Token);
        watching.CancelAfter(TimeSpan.FromSeconds(30));
        var changes = new List<ClusterDefinitionChanged>();
        var started = new TaskCompletionSource();
        var watcher = Task.Run(
            async () =>
        {
            await foreach (var change in c.WatchAsync(watching.Token))
            {
                started.TrySetResult();
                if (change is ClusterDefinitionChanged definition)
                {
                    changes.Add(definition);
                    if (definition.Definition is null)
                    {
                        return;
                    }
                }
            }
        },
            Token);

        // A node with no member yet still reports the start of its watch through the first node that joins.
        await a.JoinAsync(cancellationToken: Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);

        var created = await a.PutDefinitionAsync(ClusterDefinitionKind.Network, "lan", """{"kind":"nat","subnet":"198.51.100.0/24"}""", 0, Token);
        var read = await b.GetDefinitionAsync(ClusterDefinitionKind.Network, "lan", Token);
        Assert.Equal(created, read);
        var changed = await b.PutDefinitionAsync(ClusterDefinitionKind.Network, "lan", """{"kind":"nat","subnet":"198.51.100.0/25"}""", read!.Revision, Token);
        Assert.True(changed.Revision > created.Revision);
        await c.PutDefinitionAsync(ClusterDefinitionKind.StoragePool, "rbd", """{"kind":"rbd","pool":"virt"}""", 0, Token);
        Assert.Equal(["lan"], (await c.ListDefinitionsAsync(ClusterDefinitionKind.Network, Token)).Select(d => d.Name));
        Assert.Equal(["rbd"], (await a.ListDefinitionsAsync(ClusterDefinitionKind.StoragePool, Token)).Select(d => d.Name));
        await a.DeleteDefinitionAsync(ClusterDefinitionKind.Network, "lan", changed.Revision, Token);
        Assert.Null(await c.GetDefinitionAsync(ClusterDefinitionKind.Network, "lan", Token));

        await watcher.WaitAsync(TimeSpan.FromSeconds(30), Token);
        Assert.Equal(
            [(ClusterDefinitionKind.Network, created.Revision, true), (ClusterDefinitionKind.Network, changed.Revision, true), (ClusterDefinitionKind.StoragePool, changes[2].Revision, true), (ClusterDefinitionKind.Network, changes[3].Revision, false)],
            changes.Select(ch => (ch.Kind, ch.Revision, ch.Definition is not null)));
        Assert.Contains("198.51.100.0/25", changes[1].Definition!.Json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_edits_of_one_definition_from_two_nodes_let_exactly_one_win_each_round()
    {
        await using var lab = new ClusterLab(etcd);
        var (a, b) = (lab.Node("node-a"), lab.Node("node-b"));
        var current = await a.PutDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "web", """{"memory":1}""", 0, Token);
        for (var round = 0; round < 10; round++)
        {
            var based = current.Revision;
            var attempts = await Task.WhenAll(
                Attempt(a, $$"""{"memory":{{round}},"by":"a"}"""),
                Attempt(b, $$"""{"memory":{{round}},"by":"b"}"""));
            var winners = attempts.Where(x => x.Stored is not null).ToList();
            var losers = attempts.Where(x => x.Conflict is not null).ToList();
            Assert.Single(winners);
            Assert.Single(losers);
            current = winners[0].Stored!;
            Assert.Equal(based, losers[0].Conflict!.ExpectedRevision);
            Assert.Equal(current.Revision, losers[0].Conflict!.CurrentRevision);
            Assert.Contains($"based on revision {based}", losers[0].Conflict!.Message, StringComparison.Ordinal);
            Assert.Equal(current.Json, (await b.GetDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "web", Token))!.Json);

            async Task<(ClusterDefinition? Stored, ClusterConflictException? Conflict)> Attempt(ClusterManager node, string json)
            {
                try
                {
                    return (await node.PutDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "web", json, based, Token), null);
                }
                catch (ClusterConflictException conflict)
                {
                    return (null, conflict);
                }
            }
        }

        // Creating what exists, and deleting at a stale revision, are conflicts too.
        var exists = await Assert.ThrowsAsync<ClusterConflictException>(() => a.PutDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "web", "{}", 0, Token));
        Assert.Contains("meant to create it", exists.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ClusterConflictException>(() => a.DeleteDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "web", current.Revision - 1, Token));
        Assert.NotNull(await a.GetDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "web", Token));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    public async Task A_definition_that_is_not_a_JSON_object_is_refused_and_nothing_is_stored(string json)
    {
        await using var lab = new ClusterLab(etcd);
        var a = lab.Node("node-a");
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => a.PutDefinitionAsync(ClusterDefinitionKind.Network, "lan", json, 0, Token));
        Assert.Contains("Network definition lan", refused.Message, StringComparison.Ordinal);
        Assert.Null(await a.GetDefinitionAsync(ClusterDefinitionKind.Network, "lan", Token));
        await Assert.ThrowsAsync<ArgumentException>(() => a.PutDefinitionAsync(ClusterDefinitionKind.Network, "lan/../x", "{}", 0, Token));
    }
}
