using Virt.Storage.Locking;

namespace Virt.Storage.Tests.Locking;

/// <summary>
/// After a fresh client was refused as blocklisted too (the host's whole address is on the blocklist), calls wait before
/// trying the cluster again instead of each opening a client that the cluster refuses.
/// </summary>
public sealed class BlocklistBackoffTests
{
    private const string Config = "/etc/ceph/ceph.conf";
    private const string User = "admin";
    private readonly Clock _clock = new();
    private readonly BlocklistBackoff _backoff;

    public BlocklistBackoffTests() => _backoff = new BlocklistBackoff(_clock);

    [Fact]
    public void Calls_try_the_cluster_until_a_fresh_client_is_refused()
    {
        Assert.Null(_backoff.Remaining(Config, User));

        Assert.Equal(BlocklistBackoff.First, _backoff.Refused(Config, User));

        Assert.Equal(BlocklistBackoff.First, _backoff.Remaining(Config, User));
        Assert.Null(_backoff.Remaining(Config, "other-user"));
        Assert.Null(_backoff.Remaining("/etc/ceph/other.conf", User));
    }

    [Fact]
    public void The_wait_ends_with_its_time_and_doubles_with_each_refusal_up_to_the_longest()
    {
        var waits = new List<TimeSpan>();
        for (var refusal = 0; refusal < 10; refusal++)
        {
            var wait = _backoff.Refused(Config, User);
            waits.Add(wait);
            _clock.Advance(wait - TimeSpan.FromMilliseconds(1));
            Assert.NotNull(_backoff.Remaining(Config, User));
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Null(_backoff.Remaining(Config, User));
        }

        Assert.Equal([5, 10, 20, 40, 80, 160, 300, 300, 300, 300], waits.Select(wait => (int)wait.TotalSeconds));
    }

    [Fact]
    public void Refusals_of_calls_already_in_flight_do_not_lengthen_the_wait()
    {
        _backoff.Refused(Config, User);
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(BlocklistBackoff.First, _backoff.Refused(Config, User));
        Assert.Equal(TimeSpan.FromSeconds(4), _backoff.Remaining(Config, User));
    }

    [Fact]
    public void A_call_that_gets_through_starts_the_wait_over()
    {
        _backoff.Refused(Config, User);
        _clock.Advance(TimeSpan.FromSeconds(5));
        _backoff.Refused(Config, User);
        _clock.Advance(TimeSpan.FromSeconds(10));

        _backoff.Succeeded(Config, User);

        Assert.Null(_backoff.Remaining(Config, User));
        Assert.Equal(BlocklistBackoff.First, _backoff.Refused(Config, User));
    }

    private sealed class Clock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
