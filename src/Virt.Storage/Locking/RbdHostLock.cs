using System.Text.RegularExpressions;

namespace Virt.Storage.Locking;

/// <summary>
/// A holder's recorded Ceph clients, whether one of them has the image open (watches it) now, and the IPs its lockers come
/// from (its host's addresses, which <see cref="RbdHostLock.FenceLeftovers"/> needs once the lock is gone).
/// </summary>
internal sealed record RecordedClients(IReadOnlySet<string> Clients, bool Open, IReadOnlySet<string> Hosts);

/// <summary>
/// The cross-host lock of one RBD image: a shared RADOS lock named <c>virt.host</c> on the image's header object, one
/// locker per holder (cookie <c>HOST/USER</c>).
/// </summary>
/// <remarks>
/// <para>
/// Not <c>rbd lock add</c>: RBD's advisory locks share the header's <c>rbd_lock</c> with the exclusive-lock feature
/// (on by default), so a QEMU writing to an image the SDK had locked that way would wait for the lock for ever
/// (measured: <c>rbd bench</c> spinning, deaf to SIGTERM). A lock of its own name sits beside librbd's.
/// </para>
/// <para>
/// Exclusion without a read-then-write race: a plain acquisition takes the lock shared with a tag of its own (the
/// holder and a random nonce), and RADOS grants a shared lock only under the tag it already has, so of two hosts racing
/// exactly one gets it, in one operation. The nonce matters: the tag outlives its first holder (a migration's
/// destination joins under it), so a tag made of the holder's name alone would let that first holder, starting the VM
/// again after migrating it away, join the new holder's lock instead of being refused. A migration's destination joins the named holder under the lock's current tag, then reads
/// the lockers back and withdraws if anyone else came in — two racing joiners both withdraw, never both stay. The
/// old holder's release removes only its own locker, so ownership passes with no moment held by none or by two
/// strangers.
/// </para>
/// <para>
/// The holder's Ceph clients (the ones fencing must block) are QEMU's librbd clients, not this process's: they are
/// the image's watchers, recorded under an attribute of the header (<c>virt.clients.HOLDER</c>) while the lock is
/// held, because a hung client's watch expires after ~30 s and would no longer show.
/// </para>
/// </remarks>
internal sealed partial class RbdHostLock(IRadosObjects rados, string pool, string image, VolumeId volume)
{
    public const string LockName = "virt.host";

    // librbd's own lock (the exclusive-lock feature): held by the QEMU that last wrote to the image.
    private const string ManagedLockName = "rbd_lock";
    private const string ClientsAttributePrefix = "virt.clients.";
    private const int Busy = -16;
    private const int Exists = -17;
    private const int NotFound = -2;

    private string? _header;

    private string Header => _header ??= "rbd_header." + (rados.ImageId(pool, image) ?? throw new VolumeNotFoundException(volume));

    public static string HolderOf(string host, string user) => $"{host}/{user}";

    /// <summary>Takes the lock for <paramref name="holder"/>, or joins <paramref name="alongside"/>'s; refuses, naming the holder, when anyone else has it.</summary>
    public void Acquire(string holder, string? alongside)
    {
        if (alongside is null || alongside == holder)
        {
            var result = Lock(holder, FreshTag(holder));
            if (result == Busy)
            {
                // Held under another tag: by this holder itself (a leftover of an earlier process, or a hand-over it
                // received), which it may rejoin; by anyone else, a refusal.
                var state = rados.ListLockers(pool, Header, LockName);
                if (state.Lockers.Count == 0 || state.Lockers.Any(locker => locker.Cookie != holder) || Lock(holder, state.Tag) is not (0 or Exists))
                {
                    throw Refusal(state, holder);
                }
            }
            else if (result is not (0 or Exists))
            {
                throw Failure(result, "take");
            }

            return;
        }

        var before = rados.ListLockers(pool, Header, LockName);
        if (Strangers(before, holder, alongside).Any())
        {
            throw Refusal(before, holder);
        }

        var joined = Lock(holder, before.Lockers.Count == 0 ? FreshTag(holder) : before.Tag);
        if (joined == Busy)
        {
            throw Refusal(rados.ListLockers(pool, Header, LockName), holder);
        }

        if (joined is not (0 or Exists))
        {
            throw Failure(joined, "join");
        }

        var after = rados.ListLockers(pool, Header, LockName);
        if (Strangers(after, holder, alongside).Any())
        {
            Release(holder);
            throw Refusal(after, holder);
        }
    }

    /// <summary>Removes every locker of <paramref name="holder"/> (from this process or an earlier one) and its recorded clients.</summary>
    public void Release(string holder)
    {
        foreach (var locker in rados.ListLockers(pool, Header, LockName).Lockers.Where(locker => locker.Cookie == holder))
        {
            var result = rados.BreakLock(pool, Header, LockName, locker.Client, locker.Cookie);
            if (result is not (0 or NotFound))
            {
                throw Failure(result, "release");
            }
        }

        rados.RemoveAttribute(pool, Header, ClientsAttributePrefix + holder);
    }

    /// <summary>
    /// Adds the image's current watchers (QEMU's clients, once it opened the image) to <paramref name="holder"/>'s
    /// recorded clients; watchers already recorded for another holder (a migration's other side) are theirs.
    /// </summary>
    /// <remarks>
    /// A new client is written down first and the lock checked after (<see cref="Break"/> does the opposite: it breaks
    /// the lock first and reads the records after). Both touch the one header object, whose operations RADOS orders, so
    /// either the breaker reads this record and fences the client, or this check sees the lock gone and the caller
    /// stops the process that opened the image before it writes. Checking first and writing after would leave a window
    /// where a client is neither fenced nor refused.
    /// </remarks>
    /// <returns>The holder's recorded clients and whether one of them has the image open now, or null when it no longer holds the lock.</returns>
    public RecordedClients? Record(string holder)
    {
        var state = rados.ListLockers(pool, Header, LockName);
        if (!Holds(state, holder))
        {
            return null;
        }

        var recorded = Recorded(holder);
        var otherHolders = OtherHolders(state, holder).ToList();
        var others = otherHolders.SelectMany(Recorded).ToHashSet(StringComparer.Ordinal);

        // With another holder (a migration's other side, whose QEMU opens the image on its host), only clients from this
        // holder's own host address: whichever side recorded first would otherwise claim the other's (the destination
        // would then never see its own client and fail its start; fencing the source would block the destination).
        // Alone, every unclaimed client is this holder's: a multi-homed host's QEMU may reach the cluster from another
        // address than the SDK's client, and a start must not fail for that.
        var shared = otherHolders.Count > 0;
        var ownHosts = state.Lockers.Where(locker => locker.Cookie == holder).Select(locker => HostOf(locker.Address)).ToHashSet(StringComparer.Ordinal);
        var watchers = rados.Watchers(pool, image);
        var seen = watchers.Where(address => !others.Contains(address) && !recorded.Contains(address) && (!shared || ownHosts.Contains(HostOf(address)))).ToList();
        if (seen.Count > 0)
        {
            recorded.UnionWith(seen);
            rados.SetAttribute(pool, Header, ClientsAttributePrefix + holder, string.Join(' ', recorded.Order(StringComparer.Ordinal)));
            if (!Holds(rados.ListLockers(pool, Header, LockName), holder))
            {
                // Broken meanwhile. The record stays: a breaker still reading will fence it (it removes the records when it ends).
                return null;
            }
        }

        // The holder's own addresses are its lockers': a sole holder also claims unclaimed watchers of other hosts (a
        // multi-homed QEMU, or a tool someone ran elsewhere), whose addresses must never count as this host's.
        return new RecordedClients(recorded, watchers.Any(recorded.Contains), ownHosts);
    }

    /// <summary>
    /// For a holder that found its lock broken while its process may still run (a VM whose lock another host broke): fences
    /// every client that has the image open from <paramref name="ownHosts"/> (this host's addresses, from its last
    /// <see cref="Record"/>) that no current holder recorded. Those are its own process's clients that the breaker could not
    /// see: one opened after the breaker listed the watchers, or recorded after it read the records. Without this such a
    /// client would write beside the image's next holder.
    /// </summary>
    /// <returns>The clients fenced; none when a current holder is on one of those addresses (its clients cannot be told from this holder's, so nothing is touched).</returns>
    /// <exception cref="StorageException">A client could not be blocklisted; the message names it.</exception>
    public IReadOnlyList<string> FenceLeftovers(IReadOnlySet<string> ownHosts, uint blocklistSeconds, Action<string> fenced)
    {
        // Watchers first, lockers after: a holder takes the lock before its process opens the image, so the holder of any
        // watcher listed here is among the lockers read next (or gone, with its process).
        var watchers = rados.Watchers(pool, image);
        var state = rados.ListLockers(pool, Header, LockName);
        if (state.Lockers.Any(locker => ownHosts.Contains(HostOf(locker.Address))))
        {
            return [];
        }

        var cookies = state.Lockers.Select(locker => locker.Cookie).Distinct().ToList();
        var claimed = cookies.SelectMany(Recorded).ToHashSet(StringComparer.Ordinal);
        if (claimed.Any(address => ownHosts.Contains(HostOf(address))))
        {
            return [];
        }

        var leftovers = watchers.Where(address => ownHosts.Contains(HostOf(address)) && !claimed.Contains(address)).ToList();
        Fence(leftovers, blocklistSeconds, fenced, "stop the process on this host that still has the image open (rbd status) before anything else writes to it");
        return leftovers;
    }

    public IReadOnlyList<VolumeLockHolder> Holders()
    {
        var state = rados.ListLockers(pool, Header, LockName);
        return Describe(state, Unclaimed(state, []));
    }

    /// <summary>
    /// Breaks the lock of every holder. With <paramref name="fence"/>, each of their clients — recorded, owning librbd's
    /// lock, or still watching the image — is blocklisted first (exactly that address and nonce), then librbd's lock of
    /// those clients is broken too, so the next writer need not wait for it. Without, refused while any of them is alive.
    /// </summary>
    /// <remarks>
    /// The records are read again once the lock is broken: a holder that opened a client just then has written it down
    /// before checking the lock (<see cref="Record"/>), so that client is either in the second reading — and fenced, or,
    /// without fencing, reported — or its holder finds the lock gone and stops it before it writes.
    /// </remarks>
    public IReadOnlyList<VolumeLockHolder> Break(bool fence, uint blocklistSeconds, Action<string> fenced, IReadOnlySet<string>? onlyHosts = null)
    {
        var state = rados.ListLockers(pool, Header, LockName);
        if (state.Lockers.Count == 0)
        {
            return [];
        }

        // Checked on the lockers read here, which are the ones broken below (each by its own client and cookie): a holder
        // that took the lock after a caller's earlier look is never broken on the strength of that look.
        if (onlyHosts is not null && Describe(state, []).Where(holder => !onlyHosts.Contains(holder.Host)).ToList() is { Count: > 0 } others)
        {
            throw new StorageException(VirtErrorKind.Conflict, $"the lock of '{volume}' is held by {string.Join(", ", others.Select(holder => holder.Holder))}, not only by {string.Join(", ", onlyHosts.Order(StringComparer.Ordinal))}; it is left as it was");
        }

        var watchers = rados.Watchers(pool, image);
        var holders = Describe(state, Unclaimed(state, fence ? watchers : []));
        var clients = holders.SelectMany(holder => holder.ClientAddresses).ToHashSet(StringComparer.Ordinal);
        if (fence)
        {
            // Before the lock goes: a client that cannot be fenced (no rights, no nonce) leaves the lock as it was.
            Fence(clients, blocklistSeconds, fenced, "the lock is left as it was");
        }
        else
        {
            var alive = watchers.Where(address => clients.Count == 0 || clients.Contains(address)).ToList();
            if (alive.Count > 0)
            {
                throw new StorageException(VirtErrorKind.Refused, $"cannot break the lock of '{volume}' held by {string.Join(", ", holders.Select(holder => holder.Holder))}: Ceph client {string.Join(", ", alive)} still has the image open and may write to it; stop the VM there, or fence it with BreakLockAsync(volume, fence: true), which blocklists those clients first");
            }
        }

        foreach (var locker in state.Lockers)
        {
            var result = rados.BreakLock(pool, Header, LockName, locker.Client, locker.Cookie);
            if (result is not (0 or NotFound))
            {
                throw Failure(result, "break");
            }
        }

        var cookies = state.Lockers.Select(locker => locker.Cookie).Distinct().ToList();
        var late = cookies.SelectMany(Recorded).Where(address => !clients.Contains(address)).ToHashSet(StringComparer.Ordinal);
        if (late.Count > 0)
        {
            if (fence)
            {
                Fence(late, blocklistSeconds, fenced, "its lock is broken already, so fence that client by hand (ceph osd blocklist add ADDRESS) before anything else writes to the image");
                clients.UnionWith(late);
            }
            else if (rados.Watchers(pool, image).Where(late.Contains).ToList() is { Count: > 0 } opened)
            {
                throw new StorageException(VirtErrorKind.Refused, $"the lock of '{volume}' was broken, but {string.Join(", ", cookies)} opened the image with Ceph client {string.Join(", ", opened)} meanwhile, which may write to it: stop the VM there, or fence it with BreakLockAsync(volume, fence: true)");
            }
        }

        foreach (var owner in rados.ListLockers(pool, Header, ManagedLockName).Lockers.Where(locker => clients.Contains(locker.Address)))
        {
            rados.BreakLock(pool, Header, ManagedLockName, owner.Client, owner.Cookie);
        }

        foreach (var cookie in cookies)
        {
            rados.RemoveAttribute(pool, Header, ClientsAttributePrefix + cookie);
        }

        return holders;
    }

    /// <summary>Blocklists each client (one address with its nonce, never a whole host), in a stable order.</summary>
    private void Fence(IEnumerable<string> clients, uint blocklistSeconds, Action<string> fenced, string otherwise)
    {
        var ordered = clients.Order(StringComparer.Ordinal).ToList();
        foreach (var address in ordered.Where(address => !ClientAddress().IsMatch(address)))
        {
            throw new StorageException(VirtErrorKind.Refused, $"cannot fence the holders of '{volume}': '{address}' is not one client's address with its nonce (IP:PORT/NONCE), and a whole host's address is never blocklisted; {otherwise}; break the lock by hand (rados lock break) after stopping that client");
        }

        foreach (var address in ordered)
        {
            var result = rados.BlocklistAdd(address, blocklistSeconds);
            if (result < 0)
            {
                throw new StorageException($"cannot fence client {address} of '{volume}' (ceph osd blocklist add): {RadosConnection.Errno(result)}; client.{rados.User} needs the mon cap 'allow command \"osd blocklist\"' (or profile rbd with blocklist rights); {otherwise}");
            }

            fenced(address);
        }
    }

    /// <summary>
    /// The IP of a client address (<c>[v1:|v2:|any:]IP:PORT/NONCE</c>, an IPv6 one in brackets), normalized (an IPv4-mapped
    /// IPv6 address as IPv4); the address itself where it cannot be read.
    /// </summary>
    internal static string HostOf(string address)
    {
        var text = RadosConnection.WithoutAddressType(address);
        var end = text.StartsWith('[') ? text.IndexOf(']', StringComparison.Ordinal) : text.LastIndexOf(':');
        var host = end > 0 ? text[(text.StartsWith('[') ? 1 : 0)..end] : text;
        return System.Net.IPAddress.TryParse(host, out var ip) ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : address;
    }

    private static bool Holds(RadosLockState state, string holder) => state.Lockers.Any(locker => locker.Cookie == holder);

    private static IEnumerable<string> OtherHolders(RadosLockState state, string holder) =>
        state.Lockers.Select(locker => locker.Cookie).Where(cookie => cookie != holder).Distinct();

    private static string FreshTag(string holder) => $"virt {holder} {Guid.NewGuid():N}";

    private int Lock(string holder, string tag) =>
        rados.LockShared(pool, Header, LockName, holder, tag, $"Virt SDK: {holder} writes to this image", renew: false);

    private HashSet<string> Recorded(string holder) =>
        (rados.GetAttribute(pool, Header, ClientsAttributePrefix + holder) ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    /// <summary>Clients nobody recorded: librbd's lock owners (and, when fencing, whoever still watches the image).</summary>
    private List<string> Unclaimed(RadosLockState state, IReadOnlyList<string> watchers)
    {
        var claimed = state.Lockers.Select(locker => locker.Cookie).Distinct().SelectMany(Recorded).ToHashSet(StringComparer.Ordinal);
        return rados.ListLockers(pool, Header, ManagedLockName).Lockers.Select(owner => owner.Address).Concat(watchers).Where(address => !claimed.Contains(address)).Distinct().ToList();
    }

    /// <summary>The holders, each with its recorded clients plus the unclaimed ones (which of them wrote last cannot be told).</summary>
    private List<VolumeLockHolder> Describe(RadosLockState state, List<string> unclaimed) =>
        state.Lockers.Select(locker => locker.Cookie).Distinct().Select(cookie =>
        {
            var slash = cookie.IndexOf('/', StringComparison.Ordinal);
            var (host, user) = slash > 0 ? (cookie[..slash], cookie[(slash + 1)..]) : (cookie, string.Empty);
            return new VolumeLockHolder(host, user, Recorded(cookie).Concat(unclaimed).Distinct().Order(StringComparer.Ordinal).ToList());
        }).ToList();

    private static IEnumerable<RadosLocker> Strangers(RadosLockState state, string holder, string alongside) =>
        state.Lockers.Where(locker => locker.Cookie != holder && locker.Cookie != alongside);

    private VolumeStateException Refusal(RadosLockState state, string holder)
    {
        var others = OtherHolders(state, holder).ToList();
        if (others.Count == 0)
        {
            return new VolumeStateException(volume, $"its Ceph image {pool}/{image} could not be locked for {holder}: the lock changed hands while it was taken; try again");
        }

        var named = string.Join(", ", others.Select(cookie => cookie.Split('/', 2) is [var host, var user] ? $"host '{host}' ({user})" : $"'{cookie}'"));
        var firstHost = others[0].Split('/', 2)[0];
        return new VolumeStateException(volume, $"it is in use on {named}, which holds the cross-host lock of its Ceph image {pool}/{image} (RADOS lock '{LockName}'): stop it there or migrate it here; if host '{firstHost}' is dead, fence it with IVolumeLocks.BreakLockAsync(\"{volume}\", fence: true), which blocklists its Ceph clients before breaking the lock");
    }

    private StorageException Failure(long result, string what) =>
        new($"cannot {what} the cross-host lock of '{volume}' (Ceph image {pool}/{image}): {RadosConnection.Errno(result)}; check the cluster (ceph -s -c {rados.Config})");

    // One client: IP (v4 or bracketed v6), port, and a non-zero nonce — never a whole host.
    [GeneratedRegex(@"^(v[12]:)?(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d+/[1-9]\d*$")]
    private static partial Regex ClientAddress();
}
