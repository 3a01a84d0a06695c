using System.Collections.Concurrent;

namespace Virt.Storage.Locking;

/// <summary>
/// How long to wait before the next try once the Ceph cluster refused a fresh client as blocklisted too (the blocklist
/// names this host's whole address, not one client): every call would otherwise open one more client (a connection to
/// the monitors, ~70 ms) only to be refused again. The wait starts at <see cref="First"/> and doubles with each refusal
/// up to <see cref="Longest"/>; the first call after it tries the cluster again, and a call that gets through ends it.
/// Kept per cluster and Ceph user, as the clients are.
/// </summary>
internal sealed class BlocklistBackoff(TimeProvider time)
{
    public static readonly TimeSpan First = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan Longest = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<(string Config, string User), (DateTimeOffset Until, TimeSpan Wait)> _refused = new();

    /// <summary>What is left of the wait for this cluster and user; null when a call may try the cluster.</summary>
    public TimeSpan? Remaining(string config, string user)
    {
        if (!_refused.TryGetValue((config, user), out var refused))
        {
            return null;
        }

        var left = refused.Until - time.GetUtcNow();
        return left > TimeSpan.Zero ? left : null;
    }

    /// <summary>Notes one more refusal of a fresh client and returns how long calls now wait.</summary>
    public TimeSpan Refused(string config, string user)
    {
        var now = time.GetUtcNow();
        var entry = _refused.AddOrUpdate(
            (config, user),
            _ => (now + First, First),
            (_, earlier) =>
            {
                // Calls already in flight when the wait began are refused too: they do not lengthen it.
                if (now < earlier.Until)
                {
                    return earlier;
                }

                var wait = TimeSpan.FromTicks(Math.Min(earlier.Wait.Ticks * 2, Longest.Ticks));
                return (now + wait, wait);
            });
        return entry.Wait;
    }

    /// <summary>A call got through: the address is no longer refused.</summary>
    public void Succeeded(string config, string user)
    {
        if (!_refused.IsEmpty)
        {
            _refused.TryRemove((config, user), out _);
        }
    }
}
