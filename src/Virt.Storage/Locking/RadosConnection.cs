using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Virt.Storage.Interop;

namespace Virt.Storage.Locking;

/// <summary>One holder of a RADOS object lock: the Ceph client (<c>client.4123</c>), the cookie it locked with, and its address.</summary>
internal sealed record RadosLocker(string Client, string Cookie, string Address);

/// <summary>A RADOS object lock as <c>rados_list_lockers</c> reports it (its tag and every holder).</summary>
internal sealed record RadosLockState(bool Exclusive, string Tag, IReadOnlyList<RadosLocker> Lockers);

/// <summary>
/// A librados connection to one cluster as one Ceph user, opened once (~70 ms) and kept for the manager's life, with
/// an I/O context per pool. Every call is bounded: the connection is made with 30 s monitor and OSD timeouts, so a
/// dead cluster fails a call instead of hanging it. Calls return librados' result (0 or a negative errno) where the
/// caller branches on it.
/// </summary>
/// <remarks>
/// A client the cluster has blocklisted (another host fenced this one, or an operator blocklisted its address) stays
/// dead for the rest of its life: every OSD answers it -EBLOCKLISTED, which is ESHUTDOWN (-108) in Ceph's errno
/// table, until the entry expires. <see cref="Blocklisted"/> says a call saw that, so the owner can open a new client
/// (a new nonce, which the blocklist entry does not name) instead of failing every later call.
/// </remarks>
internal sealed class RadosConnection : IRadosObjects, IDisposable
{
    /// <summary>-EBLOCKLISTED: Ceph defines it as ESHUTDOWN.</summary>
    public const int BlocklistedError = -108;

    private const int OperationTimeoutSeconds = 30;
    private readonly ConcurrentDictionary<string, IntPtr> _pools = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private IntPtr _cluster;
    private bool _blocklisted;
    private int _users;
    private bool _retired;

    private RadosConnection(IntPtr cluster, string config, string user)
    {
        _cluster = cluster;
        Config = config;
        User = user;
    }

    public string Config { get; }

    public string User { get; }

    /// <summary>Whether a call of this client was answered -EBLOCKLISTED: it can do nothing more, open another.</summary>
    public bool Blocklisted => Volatile.Read(ref _blocklisted);

    /// <summary>Connects to the cluster described by <paramref name="config"/> as <c>client.USER</c>.</summary>
    public static RadosConnection Open(string config, string user)
    {
        IntPtr cluster;
        try
        {
            Check(Librados.Create(out cluster, "ceph", "client." + user, 0), "create a client");
        }
        catch (DllNotFoundException missing)
        {
            throw new StorageException(VirtErrorKind.Unavailable, $"Ceph's client library cannot be loaded ({missing.Message}): install librados2 and librbd1 (Debian's ceph-common brings both)");
        }

        try
        {
            Check(Librados.ConfReadFile(cluster, config), $"read {config}");
            foreach (var option in new[] { "rados_mon_op_timeout", "rados_osd_op_timeout", "client_mount_timeout" })
            {
                Check(Librados.ConfSet(cluster, option, OperationTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)), "set " + option);
            }

            Check(Librados.Connect(cluster), "connect");
            return new RadosConnection(cluster, config, user);
        }
        catch (StorageException failed)
        {
            Librados.Shutdown(cluster);
            throw new StorageException(VirtErrorKind.Unavailable, $"cannot reach the Ceph cluster of {config} as client.{user}: {failed.Message}; check the cluster (ceph -s -c {config}) and the keyring");
        }

        static void Check(int result, string what)
        {
            if (result < 0)
            {
                throw new StorageException($"{what}: {Errno(result)}");
            }
        }
    }

    /// <summary>
    /// A client address without the messenger type Ceph may put before it (<c>v1:</c>, <c>v2:</c>, <c>any:</c>): the form
    /// watchers and the blocklist use, <c>IP:PORT/NONCE</c>.
    /// </summary>
    public static string WithoutAddressType(string address)
    {
        foreach (var prefix in (string[])["v1:", "v2:", "any:"])
        {
            if (address.StartsWith(prefix, StringComparison.Ordinal))
            {
                return address[prefix.Length..];
            }
        }

        return address;
    }

    /// <summary>An errno as text: "Device or resource busy (16)".</summary>
    public static string Errno(long result) => $"{Marshal.GetPInvokeErrorMessage((int)-result)} ({-result})";

    /// <summary>The id of an RBD image (what its header object is named after), or null where the image does not exist.</summary>
    public string? ImageId(string pool, string image)
    {
        var output = new byte[256];
        var result = Seen(Librados.Exec(Pool(pool), "rbd_id." + image, "rbd", "get_id", [], 0, output, (nuint)output.Length));
        if (result == -2)
        {
            return null;
        }

        Fail(result, $"read the id of image {pool}/{image}");

        // Ceph encodes a string as a little-endian 32-bit length and the bytes.
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(output);
        return Encoding.UTF8.GetString(output, 4, length);
    }

    public int LockShared(string pool, string objectName, string lockName, string cookie, string tag, string description, bool renew) =>
        Seen(Librados.LockShared(Pool(pool), objectName, lockName, cookie, tag, description, IntPtr.Zero, renew ? (byte)1 : (byte)0));

    public int BreakLock(string pool, string objectName, string lockName, string client, string cookie) =>
        Seen(Librados.BreakLock(Pool(pool), objectName, lockName, client, cookie));

    public RadosLockState ListLockers(string pool, string objectName, string lockName)
    {
        var io = Pool(pool);
        nuint tagLength = 256, clientsLength = 1024, cookiesLength = 1024, addressesLength = 1024;
        while (true)
        {
            byte[] tag = new byte[tagLength], clients = new byte[clientsLength], cookies = new byte[cookiesLength], addresses = new byte[addressesLength];
            var count = Seen(Librados.ListLockers(io, objectName, lockName, out var exclusive, tag, ref tagLength, clients, ref clientsLength, cookies, ref cookiesLength, addresses, ref addressesLength));
            if (count == -34)
            {
                // ERANGE: the lengths now say what is needed.
                continue;
            }

            if (count == -2)
            {
                return new RadosLockState(false, string.Empty, []);
            }

            Fail(count, $"list the lockers of {pool}/{objectName}");
            var clientNames = Strings(clients, clientsLength);
            var cookieNames = Strings(cookies, cookiesLength);
            // Lockers carry the messenger's prefix ("v1:127.0.0.1:0/123"); watchers and the blocklist use the plain form.
            var addressNames = Strings(addresses, addressesLength).Select(WithoutAddressType).ToList();
            var lockers = Enumerable.Range(0, (int)count).Select(i => new RadosLocker(clientNames[i], cookieNames[i], addressNames[i])).ToList();
            return new RadosLockState(exclusive != 0, Strings(tag, tagLength).FirstOrDefault() ?? string.Empty, lockers);
        }
    }

    /// <summary>Sets an extended attribute of an object (a small note kept with it).</summary>
    public void SetAttribute(string pool, string objectName, string name, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Fail(Seen(Librados.SetXattr(Pool(pool), objectName, name, bytes, (nuint)bytes.Length)), $"write attribute {name} of {pool}/{objectName}");
    }

    /// <summary>An extended attribute of an object, or null where it has none by that name.</summary>
    public string? GetAttribute(string pool, string objectName, string name)
    {
        var buffer = new byte[4096];
        var length = Seen(Librados.GetXattr(Pool(pool), objectName, name, buffer, (nuint)buffer.Length));
        if (length is -2 or -61)
        {
            return null;
        }

        Fail(length, $"read attribute {name} of {pool}/{objectName}");
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    /// <summary>Removes an extended attribute; one already gone is no error.</summary>
    public void RemoveAttribute(string pool, string objectName, string name)
    {
        var result = Seen(Librados.RmXattr(Pool(pool), objectName, name));
        if (result is not (-2 or -61))
        {
            Fail(result, $"remove attribute {name} of {pool}/{objectName}");
        }
    }

    /// <summary>The addresses of every client that has the image open for writing (its header's watchers).</summary>
    public unsafe IReadOnlyList<string> Watchers(string pool, string image)
    {
        var opened = Seen(Librados.RbdOpenReadOnly(Pool(pool), image, out var handle, null));
        if (opened == -2)
        {
            return [];
        }

        Fail(opened, $"open image {pool}/{image} to list its watchers");
        try
        {
            var watchers = new Librados.RbdImageWatcher[16];
            nuint count = (nuint)watchers.Length;
            fixed (Librados.RbdImageWatcher* first = watchers)
            {
                var listed = Seen(Librados.RbdWatchersList(handle, first, ref count));
                Fail(listed, $"list the watchers of image {pool}/{image}");
                try
                {
                    return watchers.Take((int)count).Select(watcher => Marshal.PtrToStringUTF8(watcher.Address) ?? string.Empty).Where(address => address.Length > 0).ToList();
                }
                finally
                {
                    Librados.RbdWatchersListCleanup(first, count);
                }
            }
        }
        finally
        {
            Librados.RbdClose(handle);
        }
    }

    /// <summary>Counts a caller in; false when the client was retired meanwhile (take the current one again).</summary>
    public bool TryEnter()
    {
        lock (_gate)
        {
            // A retired client takes no new caller, so once its count reaches zero nobody can be inside it when it closes.
            if (_retired || _cluster == IntPtr.Zero)
            {
                return false;
            }

            _users++;
            return true;
        }
    }

    /// <summary>Counts a caller out; the last one out of a retired client closes it.</summary>
    public void Exit()
    {
        bool close;
        lock (_gate)
        {
            close = --_users == 0 && _retired;
        }

        if (close)
        {
            Dispose();
        }
    }

    /// <summary>
    /// No new caller will be handed this client (it was blocklisted): it closes as soon as no call is inside it, so a
    /// host whose every new client is blocklisted too (its whole address is) does not pile up dead clients.
    /// </summary>
    public void Retire()
    {
        bool close;
        lock (_gate)
        {
            _retired = true;
            close = _users == 0;
        }

        if (close)
        {
            Dispose();
        }
    }

    /// <summary>Adds one client address (with its nonce) to the cluster's OSD blocklist for <paramref name="expireSeconds"/>.</summary>
    public int BlocklistAdd(string address, uint expireSeconds) => Seen(Librados.BlocklistAdd(Cluster, address, expireSeconds));

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster == IntPtr.Zero)
            {
                return;
            }

            foreach (var io in _pools.Values)
            {
                Librados.IoctxDestroy(io);
            }

            _pools.Clear();
            Librados.Shutdown(_cluster);
            _cluster = IntPtr.Zero;
        }
    }

    private IntPtr Cluster => _cluster != IntPtr.Zero ? _cluster : throw new ObjectDisposedException(nameof(RadosConnection));

    private IntPtr Pool(string pool)
    {
        if (_pools.TryGetValue(pool, out var io))
        {
            return io;
        }

        lock (_gate)
        {
            if (_pools.TryGetValue(pool, out io))
            {
                return io;
            }

            Fail(Seen(Librados.IoctxCreate(Cluster, pool, out io)), $"open Ceph pool {pool}");
            _pools[pool] = io;
            return io;
        }
    }

    /// <summary>Passes a librados result through, noting an -EBLOCKLISTED answer.</summary>
    private nint Seen(nint result)
    {
        if (result == BlocklistedError)
        {
            Volatile.Write(ref _blocklisted, true);
        }

        return result;
    }

    private int Seen(int result) => (int)Seen((nint)result);

    private void Fail(long result, string what)
    {
        if (result < 0)
        {
            throw new StorageException($"cannot {what} (client.{User}, {Config}): {Errno(result)}; check the cluster (ceph -s -c {Config}) and client.{User}'s caps (profile rbd)");
        }
    }

    private static List<string> Strings(byte[] buffer, nuint length) =>
        Encoding.UTF8.GetString(buffer, 0, (int)Math.Min((ulong)length, (ulong)buffer.Length)).Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
}
