using System.Runtime.InteropServices;

namespace Virt.Passthrough.Interop;

/// <summary>
/// open/read/close/readlink for reading sysfs attributes: three system calls a file where a .NET
/// FileStream makes six (open, fstat, flock, read, read at the end, close) — it matters on hosts with
/// hundreds of functions, and a missing attribute is a return value rather than an exception.
/// </summary>
internal static partial class LibC
{
    public const int ORdonly = 0;
    public const int OCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint ReadLink(string path, byte* buffer, nuint size);
}
