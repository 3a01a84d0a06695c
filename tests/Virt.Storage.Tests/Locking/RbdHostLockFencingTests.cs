using Virt.Storage.Locking;

namespace Virt.Storage.Tests.Locking;

/// <summary>
/// Fencing against a holder that opens a new Ceph client while another host breaks its lock: every interleaving of the
/// holder's <see cref="RbdHostLock.Record"/> with the breaker's <see cref="RbdHostLock.Break"/> ends with that client
/// either blocklisted or refused (Record answers null, and the start that called it stops QEMU before the guest runs).
/// The cluster is <see cref="InMemoryRados"/>, so a test can run the other host at any step of one host's calls.
/// </summary>
public sealed class RbdHostLockFencingTests
{
    private const string Holder = "host-a/vm:web";
    private const string Header = "rbd_header.1f2e3d";
    private const string FirstClient = "192.0.2.1:0/1001";
    private const string NewClient = "192.0.2.1:0/2002";
    private static readonly VolumeId Volume = VolumeId.Parse("ceph:web-disk");

    private readonly InMemoryRados _cluster = new();
    private readonly InMemoryRados.Client _hostA;
    private readonly InMemoryRados.Client _hostB;

    public RbdHostLockFencingTests()
    {
        _hostA = _cluster.Connect("192.0.2.1:0/11");
        _hostB = _cluster.Connect("192.0.2.2:0/22");
        Lock(_hostA).Acquire(Holder, alongside: null);
        _cluster.Watchers.Add(FirstClient);
        Assert.Equal([FirstClient], Lock(_hostA).Record(Holder)!.Clients);
    }

    [Fact]
    public void A_client_recorded_after_the_breaker_read_the_records_is_fenced_by_its_second_reading()
    {
        // host-b has read the records and the watchers (only the first client) and is about to break the lock when
        // host-a's QEMU opens a new client and host-a records it.
        var recordedMeanwhile = new List<RecordedClients?>();
        _hostB.Before = call =>
        {
            if (call == nameof(IRadosObjects.BreakLock) && recordedMeanwhile.Count == 0)
            {
                _cluster.Watchers.Add(NewClient);
                recordedMeanwhile.Add(Lock(_hostA).Record(Holder));
            }
        };

        var fenced = new List<string>();
        var broken = Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, fenced.Add);

        // The new client was recorded while host-a still held the lock, and the second reading fenced it.
        Assert.Contains(NewClient, recordedMeanwhile.Single()!.Clients);
        Assert.Equal(["host-a"], broken.Select(holder => holder.Host));
        Assert.Equal([FirstClient, NewClient], _cluster.Blocklist.Order(StringComparer.Ordinal));
        Assert.Equal(_cluster.Blocklist, fenced);
        Assert.Empty(_hostB.ListLockers("rbd", Header, RbdHostLock.LockName).Lockers);
        Assert.Null(_cluster.Attribute(Header, "virt.clients." + Holder));
    }

    [Fact]
    public void A_client_host_a_writes_down_after_the_lock_was_broken_is_refused()
    {
        // host-a has checked that it holds the lock and lists the watchers when host-b breaks it; the new client opens just after.
        var brokenMeanwhile = new List<IReadOnlyList<VolumeLockHolder>>();
        _hostA.Before = call =>
        {
            if (call == nameof(IRadosObjects.Watchers) && brokenMeanwhile.Count == 0)
            {
                brokenMeanwhile.Add(Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, _ => { }));
                _cluster.Watchers.Add(NewClient);
            }
        };

        var recorded = Lock(_hostA).Record(Holder);

        Assert.Null(recorded);
        Assert.Equal([FirstClient], _cluster.Blocklist);
        Assert.Equal(["host-a"], brokenMeanwhile.Single().Select(holder => holder.Host));
    }

    [Fact]
    public void A_client_opened_after_the_breaker_listed_the_watchers_is_fenced_by_its_holder_once_it_finds_its_lock_gone()
    {
        // host-b lists the watchers (only the first client), then host-a's QEMU opens a new client before the break; host-a's
        // next recording finds the lock gone without having recorded it, so nobody else knows of that client.
        var hosts = Lock(_hostA).Record(Holder)!.Hosts;
        _hostB.Before = call =>
        {
            if (call == nameof(IRadosObjects.BreakLock) && !_cluster.Watchers.Contains(NewClient))
            {
                _cluster.Watchers.Add(NewClient);
            }
        };
        Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, _ => { });
        Assert.Equal([FirstClient], _cluster.Blocklist);
        Assert.Null(Lock(_hostA).Record(Holder));

        var fenced = new List<string>();
        var leftovers = Lock(_hostA).FenceLeftovers(hosts, blocklistSeconds: 3600, fenced.Add);

        Assert.Equal([NewClient], leftovers);
        Assert.Equal([NewClient], fenced);
        Assert.Equal([FirstClient, NewClient], _cluster.Blocklist);
    }

    [Fact]
    public void A_holder_whose_lock_is_gone_fences_nothing_while_a_holder_on_its_own_address_has_the_lock()
    {
        // After the break another VM on host-a's address took the image; its QEMU opened a client it has not recorded yet.
        var hosts = Lock(_hostA).Record(Holder)!.Hosts;
        Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, _ => { });
        var sameAddress = _cluster.Connect("192.0.2.1:0/33");
        Lock(sameAddress).Acquire("host-a/vm:other", alongside: null);
        _cluster.Watchers.Add(NewClient);

        Assert.Empty(Lock(_hostA).FenceLeftovers(hosts, blocklistSeconds: 3600, _ => { }));
        Assert.Equal([FirstClient], _cluster.Blocklist);
    }

    [Fact]
    public void A_holder_whose_lock_is_gone_leaves_the_next_holders_client_on_another_host_alone()
    {
        var hosts = Lock(_hostA).Record(Holder)!.Hosts;
        Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, _ => { });
        Lock(_hostB).Acquire("host-b/vm:web", alongside: null);
        _cluster.Watchers.Add("192.0.2.2:0/5005");

        Assert.Empty(Lock(_hostA).FenceLeftovers(hosts, blocklistSeconds: 3600, _ => { }));
        Assert.Equal(["192.0.2.1"], hosts);
        Assert.Equal([FirstClient], _cluster.Blocklist);
    }

    [Fact]
    public void A_lock_broken_before_the_holder_checks_is_never_recorded_into()
    {
        Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, _ => { });
        _cluster.Watchers.Add(NewClient);

        Assert.Null(Lock(_hostA).Record(Holder));
        Assert.Null(_cluster.Attribute(Header, "virt.clients." + Holder));
    }

    [Fact]
    public void Without_fencing_a_client_opened_while_the_lock_was_broken_is_reported_naming_it()
    {
        // The holder's first client has closed (a dead QEMU), so an unfenced break is allowed; a new one opens meanwhile.
        _cluster.Watchers.Remove(FirstClient);
        _hostB.Before = call =>
        {
            if (call == nameof(IRadosObjects.BreakLock) && !_cluster.Watchers.Contains(NewClient))
            {
                _cluster.Watchers.Add(NewClient);
                Assert.NotNull(Lock(_hostA).Record(Holder));
            }
        };

        var error = Assert.Throws<StorageException>(() => Lock(_hostB).Break(fence: false, blocklistSeconds: 3600, _ => { }));

        Assert.Equal(VirtErrorKind.Refused, error.ErrorKind);
        Assert.Contains(NewClient, error.Message, StringComparison.Ordinal);
        Assert.Contains("fence: true", error.Message, StringComparison.Ordinal);
        Assert.Empty(_cluster.Blocklist);
    }

    [Fact]
    public void A_break_that_cannot_fence_leaves_the_lock_and_the_records_as_they_were()
    {
        _cluster.BlocklistFails = -13;

        var error = Assert.Throws<StorageException>(() => Lock(_hostB).Break(fence: true, blocklistSeconds: 3600, _ => { }));

        Assert.Contains("osd blocklist", error.Message, StringComparison.Ordinal);
        Assert.Contains("the lock is left as it was", error.Message, StringComparison.Ordinal);
        Assert.Equal([Holder], _hostB.ListLockers("rbd", Header, RbdHostLock.LockName).Lockers.Select(locker => locker.Cookie));
        Assert.Equal(FirstClient, _cluster.Attribute(Header, "virt.clients." + Holder));
    }

    [Fact]
    public void Without_fencing_a_break_is_refused_while_the_holders_client_has_the_image_open()
    {
        var error = Assert.Throws<StorageException>(() => Lock(_hostB).Break(fence: false, blocklistSeconds: 3600, _ => { }));

        Assert.Equal(VirtErrorKind.Refused, error.ErrorKind);
        Assert.Contains(FirstClient, error.Message, StringComparison.Ordinal);
        Assert.Equal([Holder], _hostB.ListLockers("rbd", Header, RbdHostLock.LockName).Lockers.Select(locker => locker.Cookie));
    }

    [Fact]
    public void During_a_migration_each_side_records_only_the_clients_of_its_own_host()
    {
        // host-b joins host-a's lock for the incoming VM, and its QEMU opens the image; host-a's recording runs first.
        const string destination = "host-b/vm:web";
        const string destinationClient = "192.0.2.2:0/3003";
        Lock(_hostB).Acquire(destination, alongside: Holder);
        _cluster.Watchers.Add(destinationClient);

        var source = Lock(_hostA).Record(Holder)!;
        var arrived = Lock(_hostB).Record(destination)!;

        Assert.Equal([FirstClient], source.Clients);
        Assert.Equal([destinationClient], arrived.Clients);
        Assert.True(arrived.Open);
    }

    [Theory]
    [InlineData("192.0.2.1:0/1001", "192.0.2.1")]
    [InlineData("v1:192.0.2.1:0/1001", "192.0.2.1")]
    [InlineData("any:192.0.2.1:6800/7", "192.0.2.1")]
    [InlineData("[2001:db8::1]:0/42", "2001:db8::1")]
    [InlineData("v2:[2001:db8::1]:3300/42", "2001:db8::1")]
    [InlineData("[::ffff:192.0.2.1]:0/9", "192.0.2.1")]
    [InlineData("not an address", "not an address")]
    public void A_client_address_is_reduced_to_its_IP_whatever_its_form(string address, string ip) =>
        Assert.Equal(ip, RbdHostLock.HostOf(address));

    [Fact]
    public void A_sole_holder_claims_its_QEMU_even_from_another_address_of_a_multi_homed_host()
    {
        const string otherInterface = "198.51.100.1:0/4004";
        _cluster.Watchers.Add(otherInterface);

        Assert.Contains(otherInterface, Lock(_hostA).Record(Holder)!.Clients);
    }

    private static RbdHostLock Lock(IRadosObjects client) => new(client, "rbd", "web-disk", Volume);
}
