using System.Runtime.InteropServices;

namespace Virt.Storage.Interop;

/// <summary>
/// The few calls of Ceph's C client libraries (librados2, librbd1 — Debian's ceph-common depends on both) that the
/// cross-host volume locks need: a cluster connection, RADOS object locks (cls_lock), the blocklist, and the list of
/// an image's watchers. In-process because each <c>rbd</c> or <c>ceph</c> command costs a process start plus a
/// cluster connection (~70 ms), and a VM start pays for a lock and its release.
/// </summary>
internal static partial class Librados
{
    private const string Rados = "librados.so.2";
    private const string Rbd = "librbd.so.1";

    [LibraryImport(Rados, EntryPoint = "rados_create2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Create(out IntPtr cluster, string clusterName, string userName, ulong flags);

    [LibraryImport(Rados, EntryPoint = "rados_conf_read_file", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfReadFile(IntPtr cluster, string path);

    [LibraryImport(Rados, EntryPoint = "rados_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfSet(IntPtr cluster, string option, string value);

    [LibraryImport(Rados, EntryPoint = "rados_connect")]
    public static partial int Connect(IntPtr cluster);

    [LibraryImport(Rados, EntryPoint = "rados_shutdown")]
    public static partial void Shutdown(IntPtr cluster);

    [LibraryImport(Rados, EntryPoint = "rados_ioctx_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int IoctxCreate(IntPtr cluster, string poolName, out IntPtr ioctx);

    [LibraryImport(Rados, EntryPoint = "rados_ioctx_destroy")]
    public static partial void IoctxDestroy(IntPtr ioctx);

    [LibraryImport(Rados, EntryPoint = "rados_exec", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Exec(IntPtr ioctx, string objectName, string className, string method, byte[] input, nuint inputLength, byte[] output, nuint outputLength);

    [LibraryImport(Rados, EntryPoint = "rados_lock_shared", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LockShared(IntPtr ioctx, string objectName, string lockName, string cookie, string tag, string description, IntPtr duration, byte flags);

    [LibraryImport(Rados, EntryPoint = "rados_unlock", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlock(IntPtr ioctx, string objectName, string lockName, string cookie);

    [LibraryImport(Rados, EntryPoint = "rados_break_lock", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int BreakLock(IntPtr ioctx, string objectName, string lockName, string client, string cookie);

    [LibraryImport(Rados, EntryPoint = "rados_list_lockers", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint ListLockers(IntPtr ioctx, string objectName, string lockName, out int exclusive, byte[] tag, ref nuint tagLength, byte[] clients, ref nuint clientsLength, byte[] cookies, ref nuint cookiesLength, byte[] addresses, ref nuint addressesLength);

    [LibraryImport(Rados, EntryPoint = "rados_setxattr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetXattr(IntPtr ioctx, string objectName, string name, byte[] value, nuint length);

    [LibraryImport(Rados, EntryPoint = "rados_getxattr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int GetXattr(IntPtr ioctx, string objectName, string name, byte[] buffer, nuint length);

    [LibraryImport(Rados, EntryPoint = "rados_rmxattr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RmXattr(IntPtr ioctx, string objectName, string name);

    [LibraryImport(Rados, EntryPoint = "rados_blocklist_add", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int BlocklistAdd(IntPtr cluster, string clientAddress, uint expireSeconds);

    [LibraryImport(Rbd, EntryPoint = "rbd_open_read_only", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RbdOpenReadOnly(IntPtr ioctx, string name, out IntPtr image, string? snapshot);

    [LibraryImport(Rbd, EntryPoint = "rbd_close")]
    public static partial int RbdClose(IntPtr image);

    [LibraryImport(Rbd, EntryPoint = "rbd_watchers_list")]
    public static unsafe partial int RbdWatchersList(IntPtr image, RbdImageWatcher* watchers, ref nuint count);

    [LibraryImport(Rbd, EntryPoint = "rbd_watchers_list_cleanup")]
    public static unsafe partial void RbdWatchersListCleanup(RbdImageWatcher* watchers, nuint count);

    /// <summary>librbd's <c>rbd_image_watcher_t</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RbdImageWatcher
    {
        public IntPtr Address;
        public long Id;
        public ulong Cookie;
    }
}
