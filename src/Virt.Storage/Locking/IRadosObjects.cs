namespace Virt.Storage.Locking;

/// <summary>
/// The RADOS calls the cross-host lock of an RBD image makes: object locks (cls_lock), attributes of the image's header,
/// the image's watchers and the OSD blocklist. <see cref="RadosConnection"/> makes them on a cluster; the unit tests'
/// fake plays a cluster in memory, where they can interleave two hosts at any step.
/// </summary>
internal interface IRadosObjects
{
    /// <summary>The cluster's configuration file (named in errors).</summary>
    string Config { get; }

    /// <summary>The Ceph user the calls are made as (without <c>client.</c>).</summary>
    string User { get; }

    /// <summary>The id of an RBD image (what its header object is named after), or null where the image does not exist.</summary>
    string? ImageId(string pool, string image);

    /// <summary>Takes (or joins, under the same tag) a shared lock; 0, -EEXIST where this client holds it already, -EBUSY where it is held under another tag.</summary>
    int LockShared(string pool, string objectName, string lockName, string cookie, string tag, string description, bool renew);

    /// <summary>Removes one locker (client and cookie); 0, or -ENOENT where it is gone.</summary>
    int BreakLock(string pool, string objectName, string lockName, string client, string cookie);

    RadosLockState ListLockers(string pool, string objectName, string lockName);

    void SetAttribute(string pool, string objectName, string name, string value);

    string? GetAttribute(string pool, string objectName, string name);

    void RemoveAttribute(string pool, string objectName, string name);

    /// <summary>The addresses (<c>IP:PORT/NONCE</c>) of every client that has the image open for writing.</summary>
    IReadOnlyList<string> Watchers(string pool, string image);

    /// <summary>Adds one client address (with its nonce) to the OSD blocklist; 0 or a negative errno.</summary>
    int BlocklistAdd(string address, uint expireSeconds);
}
