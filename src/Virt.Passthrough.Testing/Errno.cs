namespace Virt.Passthrough.Testing;

/// <summary>The Linux error numbers a sysfs write can answer with (x86-64 values).</summary>
public enum Errno
{
    /// <summary>Operation not permitted.</summary>
    EPERM = 1,

    /// <summary>No such file or directory.</summary>
    ENOENT = 2,

    /// <summary>I/O error.</summary>
    EIO = 5,

    /// <summary>Device or resource busy.</summary>
    EBUSY = 16,

    /// <summary>File exists.</summary>
    EEXIST = 17,

    /// <summary>No such device.</summary>
    ENODEV = 19,

    /// <summary>Invalid argument.</summary>
    EINVAL = 22,

    /// <summary>Inappropriate ioctl for device (a reset method that cannot work).</summary>
    ENOTTY = 25,

    /// <summary>No space left on device.</summary>
    ENOSPC = 28,

    /// <summary>Numerical result out of range.</summary>
    ERANGE = 34,

    /// <summary>Too many users (no mdev instance left).</summary>
    EUSERS = 87,
}

/// <summary>A write the fake kernel received.</summary>
/// <param name="Ordinal">Its number, from 0, in the order received.</param>
/// <param name="Path">The sysfs file.</param>
/// <param name="Value">What was written.</param>
/// <param name="Error">The error it answered, or null for success.</param>
public sealed record FakeWrite(int Ordinal, string Path, string Value, Errno? Error);

/// <summary>A fault the fake kernel answers a write with.</summary>
/// <param name="Match">Which write.</param>
/// <param name="Error">The error to answer.</param>
/// <param name="Once">Whether it fires only once.</param>
internal sealed record FakeFault(Func<int, string, bool> Match, Errno Error, bool Once);

/// <summary>How .NET on Linux reports a failed write: an IOException whose HResult is the errno.</summary>
internal static class KernelErrors
{
    public static IOException ToException(Errno error, string path) => new($"{Describe(error)} ({error}) writing {path}", (int)error);

    private static string Describe(Errno error) => error switch
    {
        Errno.EPERM => "Operation not permitted",
        Errno.ENOENT => "No such file or directory",
        Errno.EIO => "Input/output error",
        Errno.EBUSY => "Device or resource busy",
        Errno.EEXIST => "File exists",
        Errno.ENODEV => "No such device",
        Errno.EINVAL => "Invalid argument",
        Errno.ENOTTY => "Inappropriate ioctl for device",
        Errno.ENOSPC => "No space left on device",
        Errno.ERANGE => "Numerical result out of range",
        Errno.EUSERS => "Too many users",
        _ => "Error",
    };
}
