using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using Mvccpb;
using Virt.Cluster.Membership;
using Virt.Cluster.Store;
using Virt.Clustering;

namespace Virt.Cluster.Tests;

/// <summary>The watch's picture of the cluster, fed etcd responses built by hand and driven by a fake clock.</summary>
public sealed class ClusterViewTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(9);
    private static readonly ClusterKeys Keys = new("/t/");
    private readonly FakeTimeProvider _clock = new();
    private readonly ClusterView _view;

    public ClusterViewTests() => _view = new ClusterView(Keys, Ttl, _clock);

    [Fact]
    public void The_snapshot_reports_every_member_online_or_dead_and_sets_the_revision()
    {
        var changes = _view.Reset(Snapshot(40, [("a", false), ("b", true)], ["a"]));

        Assert.Equal(40, _view.Revision);
        Assert.Equal([("a", ClusterNodeState.Online), ("b", ClusterNodeState.Dead)], Nodes(changes));
        Assert.Equal(4096L << 20, ((ClusterNodeChanged)changes[0]).Node!.Capacity!.FreeMemoryBytes);
        Assert.Null(((ClusterNodeChanged)changes[1]).Node!.Capacity);
    }

    [Fact]
    public void Heartbeats_that_change_only_free_memory_report_nothing_and_a_silent_node_turns_suspect_then_back()
    {
        _view.Reset(Snapshot(10, [("a", false)], ["a"]));
        Assert.Empty(_view.Apply(Watch(11, Put(Keys.AliveOf("a"), Heartbeat(freeMib: 1234), 11))));

        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(_view.Tick());
        _clock.Advance(TimeSpan.FromSeconds(1));
        var suspect = _view.Tick();
        Assert.Equal([("a", ClusterNodeState.Suspect)], Nodes(suspect));
        Assert.Equal(0, suspect[0].Revision);
        Assert.Empty(_view.Tick());

        var back = _view.Apply(Watch(12, Put(Keys.AliveOf("a"), Heartbeat(), 12)));
        Assert.Equal([("a", ClusterNodeState.Online)], Nodes(back));
        Assert.Equal(12, back[0].Revision);

        var offer = _view.Apply(Watch(13, Put(Keys.AliveOf("a"), Heartbeat(networks: ["lan", "dmz"]), 13)));
        Assert.Equal(["lan", "dmz"], ((ClusterNodeChanged)offer.Single()).Node!.Capacity!.Networks);
    }

    [Fact]
    public void A_deleted_heartbeat_is_a_dead_node_a_deleted_member_a_removed_one_and_maintenance_is_reported()
    {
        _view.Reset(Snapshot(10, [("a", false), ("b", false)], ["a", "b"]));

        Assert.Equal([("b", ClusterNodeState.Maintenance)], Nodes(_view.Apply(Watch(11, Put(Keys.Member("b"), Member(maintenance: true), 11)))));
        Assert.Equal([("a", ClusterNodeState.Dead)], Nodes(_view.Apply(Watch(12, Delete(Keys.AliveOf("a"), 12)))));
        var removed = _view.Apply(Watch(13, Delete(Keys.Member("a"), 13)));
        Assert.Equal(new ClusterNodeChanged(13, "a", null), removed.Single());
        Assert.Empty(_view.Apply(Watch(14, Put(Keys.AliveOf("a"), Heartbeat(), 14))));
        Assert.Equal(14, _view.Revision);
    }

    [Fact]
    public void Definitions_and_ownerships_become_their_events_and_foreign_keys_are_ignored()
    {
        _view.Reset(Snapshot(1, [], []));
        var changes = _view.Apply(Watch(
            9,
            Put(Keys.Definition(ClusterDefinitionKind.StoragePool, "rbd"), "{\"pool\":\"virt\"}"u8.ToArray(), 5),
            Delete(Keys.Definition(ClusterDefinitionKind.Network, "lan"), 6),
            Put(Keys.Owner(ClusterGuestKind.Container, "ct1"), JsonSerializer.SerializeToUtf8Bytes(new OwnerRecord("node-b", 64, "g"), ClusterJsonContext.Default.OwnerRecord), 7),
            Delete(Keys.Owner(ClusterGuestKind.VirtualMachine, "vm1"), 8),
            Put("/t/definitions/unknown/x", "{}"u8.ToArray(), 9),
            Put("/t/something-else", "{}"u8.ToArray(), 9)));

        Assert.Equal(
            [
                new ClusterDefinitionChanged(5, ClusterDefinitionKind.StoragePool, "rbd", new ClusterDefinition(ClusterDefinitionKind.StoragePool, "rbd", "{\"pool\":\"virt\"}", 5)),
                new ClusterDefinitionChanged(6, ClusterDefinitionKind.Network, "lan", null),
                new ClusterOwnershipChanged(7, ClusterGuestKind.Container, "ct1", new GuestOwnership(ClusterGuestKind.Container, "ct1", "node-b", 64, "g", 7)),
                new ClusterOwnershipChanged(8, ClusterGuestKind.VirtualMachine, "vm1", null),
            ],
            changes);
    }

    [Fact]
    public void An_HA_ownership_carries_its_requested_state_and_a_record_written_before_there_was_one_reads_as_started()
    {
        _view.Reset(Snapshot(1, [], []));
        var changes = _view.Apply(Watch(
            9,
            Put(Keys.Owner(ClusterGuestKind.VirtualMachine, "db"), JsonSerializer.SerializeToUtf8Bytes(new OwnerRecord("node-a", 64, null, true, HaRequestedState.Stopped), ClusterJsonContext.Default.OwnerRecord), 7),
            Put(Keys.Owner(ClusterGuestKind.VirtualMachine, "web"), "{\"node\":\"node-b\",\"memoryBytes\":64,\"antiAffinityGroup\":null,\"highAvailability\":true}"u8.ToArray(), 8)));

        Assert.Equal(
            [
                new ClusterOwnershipChanged(7, ClusterGuestKind.VirtualMachine, "db", new GuestOwnership(ClusterGuestKind.VirtualMachine, "db", "node-a", 64, null, 7, true, HaRequestedState.Stopped)),
                new ClusterOwnershipChanged(8, ClusterGuestKind.VirtualMachine, "web", new GuestOwnership(ClusterGuestKind.VirtualMachine, "web", "node-b", 64, null, 8, true, HaRequestedState.Started)),
            ],
            changes);
        Assert.Contains("\"requestedState\":\"Stopped\"", System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(new OwnerRecord("node-a", 64, null, true, HaRequestedState.Stopped), ClusterJsonContext.Default.OwnerRecord)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_resync_reports_the_definitions_and_owners_deleted_while_the_watch_was_away()
    {
        var owner = JsonSerializer.SerializeToUtf8Bytes(new OwnerRecord("node-a", 64, null), ClusterJsonContext.Default.OwnerRecord);
        var first = Snapshot(10, [], []);
        first.Responses.Add(Range(Kv(Keys.Definition(ClusterDefinitionKind.Network, "lan"), "{}"u8.ToArray(), 4), Kv(Keys.Definition(ClusterDefinitionKind.Network, "dmz"), "{}"u8.ToArray(), 5)));
        first.Responses.Add(Range(Kv(Keys.Owner(ClusterGuestKind.VirtualMachine, "vm1"), owner, 6)));
        _view.Reset(first);
        Assert.Empty(_view.Apply(Watch(11, Put("/t/something-else", "{}"u8.ToArray(), 11))));

        // etcd compacted past the watch's revision; meanwhile "lan" and vm1's owner were deleted and "dmz" kept.
        var second = Snapshot(30, [], []);
        second.Responses.Add(Range(Kv(Keys.Definition(ClusterDefinitionKind.Network, "dmz"), "{}"u8.ToArray(), 5)));
        second.Responses.Add(Range());
        var changes = _view.Reset(second);

        Assert.Equal(
            [
                new ClusterDefinitionChanged(30, ClusterDefinitionKind.Network, "lan", null),
                new ClusterOwnershipChanged(30, ClusterGuestKind.VirtualMachine, "vm1", null),
                new ClusterDefinitionChanged(5, ClusterDefinitionKind.Network, "dmz", new ClusterDefinition(ClusterDefinitionKind.Network, "dmz", "{}", 5)),
            ],
            changes);
        Assert.Equal([new ClusterDefinitionChanged(5, ClusterDefinitionKind.Network, "dmz", new ClusterDefinition(ClusterDefinitionKind.Network, "dmz", "{}", 5))], _view.Reset(second));
    }

    private static ResponseOp Range(params KeyValue[] kvs)
    {
        var range = new RangeResponse();
        range.Kvs.AddRange(kvs);
        return new ResponseOp { ResponseRange = range };
    }

    [Fact]
    public void Migrations_and_drains_become_their_events_without_the_ticket()
    {
        _view.Reset(Snapshot(1, [], []));
        var migration = new MigrationRecord("node-a", "node-b", 3, "{}", new Dictionary<string, long>(), DateTimeOffset.UnixEpoch, TicketJson: "{\"token\":\"secret\"}");
        var drain = new DrainRecord(ClusterDrainState.Running, DateTimeOffset.UnixEpoch, [new DrainedGuest("web", "node-b")], ["ct1"], [new DrainFailure(ClusterGuestKind.VirtualMachine, "db", "no node fits")]);
        var changes = _view.Apply(Watch(
            12,
            Put(Keys.Migration(ClusterGuestKind.VirtualMachine, "web"), JsonSerializer.SerializeToUtf8Bytes(migration, ClusterJsonContext.Default.MigrationRecord), 10),
            Delete(Keys.Migration(ClusterGuestKind.VirtualMachine, "web"), 11),
            Put(Keys.Drain("node-a"), JsonSerializer.SerializeToUtf8Bytes(drain, ClusterJsonContext.Default.DrainRecord), 12),
            Delete(Keys.Drain("node-a"), 12)));

        Assert.Equal(new ClusterMigrationChanged(10, ClusterGuestKind.VirtualMachine, "web", new ClusterMigration("web", "node-a", "node-b", Ready: true, Error: null, 10)), changes[0]);
        Assert.Equal(new ClusterMigrationChanged(11, ClusterGuestKind.VirtualMachine, "web", null), changes[1]);
        var drained = Assert.IsType<ClusterDrainChanged>(changes[2]).Drain!;
        Assert.Equal(("node-a", ClusterDrainState.Running, false, 12L), (drained.Node, drained.State, drained.Finished, drained.Revision));
        Assert.Equal([new DrainedGuest("web", "node-b")], drained.Moved);
        Assert.Equal(["ct1"], drained.Stopped);
        Assert.Equal("no node fits", Assert.Single(drained.Failures).Reason);
        Assert.Equal(new ClusterDrainChanged(12, "node-a", null), changes[3]);
        Assert.DoesNotContain("secret", string.Join(" ", changes), StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_snapshot_reports_members_that_disappeared_meanwhile_as_removed()
    {
        _view.Reset(Snapshot(10, [("a", false), ("b", false)], ["a", "b"]));
        var changes = _view.Reset(Snapshot(50, [("b", false)], ["b"]));
        Assert.Equal(new ClusterNodeChanged(50, "a", null), changes[0]);
        Assert.Equal([("b", ClusterNodeState.Online)], Nodes(changes.Skip(1).ToList()));
    }

    private static List<(string, ClusterNodeState)> Nodes(IReadOnlyList<ClusterEvent> changes) =>
        changes.Cast<ClusterNodeChanged>().Select(c => (c.Name, c.Node!.State)).ToList();

    private static byte[] Member(bool maintenance = false) =>
        JsonSerializer.SerializeToUtf8Bytes(new MemberRecord("host", DateTimeOffset.UnixEpoch, maintenance), ClusterJsonContext.Default.MemberRecord);

    private static byte[] Heartbeat(long freeMib = 4096, string[]? networks = null) =>
        JsonSerializer.SerializeToUtf8Bytes(new HeartbeatRecord(7, new NodeCapacity(4, 8L << 30, freeMib << 20, networks ?? ["lan"], ["rbd"], "7.2.22"), DateTimeOffset.UnixEpoch), ClusterJsonContext.Default.HeartbeatRecord);

    private static TxnResponse Snapshot(long revision, (string Name, bool Maintenance)[] members, string[] alive)
    {
        var memberRange = new RangeResponse();
        memberRange.Kvs.AddRange(members.Select(m => Kv(Keys.Member(m.Name), Member(m.Maintenance), 2)));
        var aliveRange = new RangeResponse();
        aliveRange.Kvs.AddRange(alive.Select(a => Kv(Keys.AliveOf(a), Heartbeat(), 3)));
        var response = new TxnResponse { Header = new ResponseHeader { Revision = revision }, Succeeded = true };
        response.Responses.Add(new ResponseOp { ResponseRange = memberRange });
        response.Responses.Add(new ResponseOp { ResponseRange = aliveRange });
        return response;
    }

    private static WatchResponse Watch(long revision, params Event[] events)
    {
        var response = new WatchResponse { Header = new ResponseHeader { Revision = revision } };
        response.Events.AddRange(events);
        return response;
    }

    private static Event Put(string key, byte[] value, long revision) => new() { Type = Event.Types.EventType.Put, Kv = Kv(key, value, revision) };

    private static Event Delete(string key, long revision) => new() { Type = Event.Types.EventType.Delete, Kv = new KeyValue { Key = ByteString.CopyFromUtf8(key), ModRevision = revision } };

    private static KeyValue Kv(string key, byte[] value, long revision) => new() { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value), ModRevision = revision };
}
