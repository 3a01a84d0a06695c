using System.Collections.Concurrent;
using System.Net;

namespace Virt.Panel.Auth;

/// <summary>
/// Lockout after wrong secrets, per client address: after <see cref="FreeFailures"/> wrong secrets in a row
/// (at login or as a bearer token) the address is locked out for 30 s, doubled with every further wrong
/// secret up to 15 minutes. While locked out every secret from it — the right one too — is refused with 429
/// and Retry-After, without being checked; a right secret outside a lockout clears the count. Sessions
/// already open are not affected. Behind a reverse proxy every client has the proxy's address.
/// </summary>
internal sealed class LoginThrottle(TimeProvider time)
{
    public const int FreeFailures = 5;
    private const int MaxTracked = 10_000;
    private static readonly TimeSpan FirstLockout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LongestLockout = TimeSpan.FromMinutes(15);
    private readonly ConcurrentDictionary<IPAddress, Entry> _clients = new();

    /// <summary>How long the client is still locked out, or null when it may try a secret.</summary>
    public TimeSpan? LockedFor(IPAddress? client)
    {
        if (client is null || !_clients.TryGetValue(Normalize(client), out var entry))
        {
            return null;
        }

        var left = entry.LockedUntil - time.GetUtcNow();
        return left > TimeSpan.Zero ? left : null;
    }

    public void Succeeded(IPAddress? client)
    {
        if (client is not null)
        {
            _clients.TryRemove(Normalize(client), out _);
        }
    }

    public void Failed(IPAddress? client)
    {
        if (client is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        if (_clients.Count >= MaxTracked)
        {
            foreach (var stale in _clients.Where(pair => pair.Value.LockedUntil < now - LongestLockout).Select(pair => pair.Key).ToList())
            {
                _clients.TryRemove(stale, out _);
            }
        }

        _clients.AddOrUpdate(
            Normalize(client),
            _ => new Entry(1, DateTimeOffset.MinValue),
            (_, entry) =>
            {
                var failures = entry.Failures + 1;
                if (failures < FreeFailures)
                {
                    return entry with { Failures = failures };
                }

                var lockout = TimeSpan.FromTicks(Math.Min(LongestLockout.Ticks, FirstLockout.Ticks << Math.Min(failures - FreeFailures, 10)));
                return new Entry(failures, now + lockout);
            });
    }

    /// <summary>IPv4 as itself; IPv6 by its /64 (one host can hold a whole /64 and rotate through it).</summary>
    private static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(address))
        {
            return address;
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    private sealed record Entry(int Failures, DateTimeOffset LockedUntil);
}
