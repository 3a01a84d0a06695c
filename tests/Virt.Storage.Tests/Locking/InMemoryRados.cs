using Virt.Storage.Locking;

namespace Virt.Storage.Tests.Locking;

/// <summary>
/// A Ceph cluster's objects as the cross-host lock sees them, in memory: cls_lock shared locks with their tag and
/// lockers, header attributes, each image's watchers and the OSD blocklist. Every host of a test is a
/// <see cref="Client"/> of it (its own entity name and address), as each host's SDK is a librados client of the real one.
/// </summary>
internal sealed class InMemoryRados
{
    private readonly Dictionary<string, (string Tag, List<RadosLocker> Lockers)> _locks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _attributes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _nextClient = 4100;

    /// <summary>The addresses that have the image open (QEMU's librbd clients); a test opens and closes them.</summary>
    public List<string> Watchers { get; } = [];

    /// <summary>Addresses blocklisted, in order.</summary>
    public List<string> Blocklist { get; } = [];

    /// <summary>A blocklist add answers this errno (negative) instead of succeeding, when set.</summary>
    public int? BlocklistFails { get; set; }

    public Client Connect(string address) => new(this, $"client.{Interlocked.Increment(ref _nextClient)}", address);

    public string? Attribute(string objectName, string name)
    {
        lock (_gate)
        {
            return _attributes.GetValueOrDefault(objectName + "|" + name);
        }
    }

    /// <summary>One host's connection. <see cref="Before"/> runs before each of its calls (named as the interface names them), to interleave another host there.</summary>
    public sealed class Client(InMemoryRados cluster, string entity, string address) : IRadosObjects
    {
        public string Config => "/etc/ceph/ceph.conf";

        public string User => "admin";

        public Action<string>? Before { get; set; }

        public string? ImageId(string pool, string image)
        {
            Call(nameof(ImageId));
            return "1f2e3d";
        }

        public int LockShared(string pool, string objectName, string lockName, string cookie, string tag, string description, bool renew)
        {
            Call(nameof(LockShared));
            lock (cluster._gate)
            {
                var key = objectName + "|" + lockName;
                if (!cluster._locks.TryGetValue(key, out var held) || held.Lockers.Count == 0)
                {
                    cluster._locks[key] = (tag, [new RadosLocker(entity, cookie, address)]);
                    return 0;
                }

                if (held.Tag != tag)
                {
                    return -16;
                }

                if (held.Lockers.Any(locker => locker.Client == entity && locker.Cookie == cookie))
                {
                    return -17;
                }

                held.Lockers.Add(new RadosLocker(entity, cookie, address));
                return 0;
            }
        }

        public int BreakLock(string pool, string objectName, string lockName, string client, string cookie)
        {
            Call(nameof(BreakLock));
            lock (cluster._gate)
            {
                return cluster._locks.TryGetValue(objectName + "|" + lockName, out var held) && held.Lockers.RemoveAll(locker => locker.Client == client && locker.Cookie == cookie) > 0 ? 0 : -2;
            }
        }

        public RadosLockState ListLockers(string pool, string objectName, string lockName)
        {
            Call(nameof(ListLockers));
            lock (cluster._gate)
            {
                return cluster._locks.TryGetValue(objectName + "|" + lockName, out var held) && held.Lockers.Count > 0
                    ? new RadosLockState(false, held.Tag, [.. held.Lockers])
                    : new RadosLockState(false, string.Empty, []);
            }
        }

        public void SetAttribute(string pool, string objectName, string name, string value)
        {
            Call(nameof(SetAttribute));
            lock (cluster._gate)
            {
                cluster._attributes[objectName + "|" + name] = value;
            }
        }

        public string? GetAttribute(string pool, string objectName, string name)
        {
            Call(nameof(GetAttribute));
            return cluster.Attribute(objectName, name);
        }

        public void RemoveAttribute(string pool, string objectName, string name)
        {
            Call(nameof(RemoveAttribute));
            lock (cluster._gate)
            {
                cluster._attributes.Remove(objectName + "|" + name);
            }
        }

        public IReadOnlyList<string> Watchers(string pool, string image)
        {
            Call(nameof(Watchers));
            lock (cluster._gate)
            {
                return [.. cluster.Watchers];
            }
        }

        public int BlocklistAdd(string address, uint expireSeconds)
        {
            Call(nameof(BlocklistAdd));
            lock (cluster._gate)
            {
                if (cluster.BlocklistFails is { } error)
                {
                    return error;
                }

                cluster.Blocklist.Add(address);

                // As the OSDs do on the new map: a blocklisted client's watches are dropped.
                cluster.Watchers.Remove(address);
                return 0;
            }
        }

        private void Call(string name) => Before?.Invoke(name);
    }
}
