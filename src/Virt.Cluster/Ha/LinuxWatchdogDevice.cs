using System.Runtime.InteropServices;
using Virt.Clustering;

namespace Virt.Cluster.Ha;

/// <summary>A hardware (or softdog) watchdog the HA agent keeps alive: the host resets when keepalives stop.</summary>
internal interface IWatchdogDevice : IDisposable
{
    /// <summary>The device's path.</summary>
    string Path { get; }

    /// <summary>The driver's name for the device.</summary>
    string Identity { get; }

    /// <summary>The timeout the driver set (it may round the one asked for).</summary>
    TimeSpan Timeout { get; }

    /// <summary>Restarts the countdown.</summary>
    void Keepalive();

    /// <summary>Stops the watchdog (the magic close) and closes the device: only for a clean stop of the process.</summary>
    /// <returns>Whether the magic character was written.</returns>
    bool Disarm();
}

/// <summary>
/// The Linux watchdog API (<c>Documentation/watchdog/watchdog-api.rst</c>) on a device such as <c>/dev/watchdog</c>:
/// opening it arms it; <c>WDIOC_SETTIMEOUT</c> sets the countdown; <c>WDIOC_KEEPALIVE</c> restarts it; writing <c>V</c>
/// before the close stops it (the magic close). Closing without the <c>V</c> — a process that is killed or crashes —
/// leaves it running, and the host resets when the countdown ends. A driver without the magic close cannot be stopped,
/// so it is refused: a clean stop of the process would reset the host.
/// </summary>
internal sealed partial class LinuxWatchdogDevice : IWatchdogDevice
{
    // ioctl numbers from <linux/watchdog.h>: _IOR('W', 0, struct watchdog_info) (40 bytes), _IOR('W', 5, int),
    // _IOWR('W', 6, int).
    private const uint WdiocGetSupport = 0x80285700;
    private const uint WdiocKeepalive = 0x80045705;
    private const uint WdiocSetTimeout = 0xC0045706;
    private const int WdiofSetTimeout = 0x0080;
    private const int WdiofMagicClose = 0x0100;
    private const int WdiofKeepalivePing = 0x8000;
    private const int OpenWriteOnly = 0x1;
    private const int OpenCloseOnExec = 0x80000;

    private int _descriptor;

    private LinuxWatchdogDevice(string path, int descriptor, TimeSpan timeout, string identity)
    {
        Path = path;
        _descriptor = descriptor;
        Timeout = timeout;
        Identity = identity;
    }

    public string Path { get; }

    public TimeSpan Timeout { get; }

    /// <summary>The driver's name for the device (<c>watchdog_info.identity</c>), e.g. <c>i6300ESB timer</c> or <c>Software Watchdog</c>.</summary>
    public string Identity { get; }

    /// <summary>Opens (arms) the device and sets its countdown to <paramref name="timeout"/> (whole seconds).</summary>
    /// <exception cref="ClusterException">The device cannot be opened, cannot be stopped cleanly, or refuses the timeout.</exception>
    public static LinuxWatchdogDevice Open(string path, TimeSpan timeout)
    {
        // A driver loaded with nowayout ignores the magic close: a clean stop (and every refusal below) would reset the host.
        var sysfs = System.IO.Path.Combine("/sys/class/watchdog", System.IO.Path.GetFileName(path) is "watchdog" ? "watchdog0" : System.IO.Path.GetFileName(path), "nowayout");
        if (File.Exists(sysfs) && File.ReadAllText(sysfs).Trim() == "1")
        {
            throw new ClusterException(VirtErrorKind.Refused, $"the watchdog device {path} cannot be stopped once started ({sysfs} is 1: nowayout), so a clean stop of this process would reset the host: load its driver without nowayout (e.g. modprobe softdog nowayout=0), or leave ClusterHaOptions.WatchdogDevice unset");
        }

        var descriptor = OpenDevice(path, OpenWriteOnly | OpenCloseOnExec);
        if (descriptor < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new ClusterException(VirtErrorKind.Refused, $"the watchdog device {path} cannot be opened ({Marshal.GetPInvokeErrorMessage(errno)}): load a watchdog driver (modprobe softdog, or the board's, e.g. iTCO_wdt, i6300esb), make sure no other program (the watchdog daemon, systemd's RuntimeWatchdogSec) holds it, run as root, or leave ClusterHaOptions.WatchdogDevice unset");
        }

        try
        {
            var info = new byte[40];
            if (Ioctl(descriptor, WdiocGetSupport, info) < 0)
            {
                throw Failure(path, "WDIOC_GETSUPPORT");
            }

            var options = BitConverter.ToInt32(info, 0);
            var identity = System.Text.Encoding.ASCII.GetString(info, 8, 32).TrimEnd('\0');
            var missing = (options & WdiofMagicClose) == 0 ? "cannot be stopped by the magic close, so a clean stop of this process would reset the host"
                : (options & WdiofSetTimeout) == 0 ? "has a fixed timeout"
                : (options & WdiofKeepalivePing) == 0 ? "takes no keepalive (WDIOC_KEEPALIVE)"
                : null;
            if (missing is not null)
            {
                throw new ClusterException(VirtErrorKind.Refused, $"the watchdog device {path} ({identity}) {missing}: use a driver with the magic close, a settable timeout and keepalives (softdog has them), or leave ClusterHaOptions.WatchdogDevice unset");
            }

            var seconds = BitConverter.GetBytes((int)timeout.TotalSeconds);
            if (Ioctl(descriptor, WdiocSetTimeout, seconds) < 0)
            {
                throw Failure(path, $"WDIOC_SETTIMEOUT {(int)timeout.TotalSeconds} s");
            }

            return new LinuxWatchdogDevice(path, descriptor, TimeSpan.FromSeconds(BitConverter.ToInt32(seconds, 0)), identity);
        }
        catch
        {
            // The open armed it: stopped again (magic close), so a refusal leaves no countdown running.
            _ = Disarm(descriptor);
            throw;
        }
    }

    public void Keepalive()
    {
        var none = new byte[4];
        if (Ioctl(Volatile.Read(ref _descriptor), WdiocKeepalive, none) < 0)
        {
            throw Failure(Path, "WDIOC_KEEPALIVE");
        }
    }

    public bool Disarm()
    {
        var descriptor = Interlocked.Exchange(ref _descriptor, -1);
        return descriptor >= 0 && Disarm(descriptor);
    }

    /// <summary>Closes the device without the magic close: it stays armed, as when the process dies.</summary>
    public void Dispose()
    {
        var descriptor = Interlocked.Exchange(ref _descriptor, -1);
        if (descriptor >= 0)
        {
            _ = Close(descriptor);
        }
    }

    private static bool Disarm(int descriptor)
    {
        var written = Write(descriptor, "V"u8.ToArray(), 1) == 1;
        _ = Close(descriptor);
        return written;
    }

    private static ClusterException Failure(string path, string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new ClusterException(VirtErrorKind.Failed, $"the watchdog device {path}: {what} failed ({Marshal.GetPInvokeErrorMessage(errno)})");
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenDevice(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int descriptor, nuint request, [In, Out] byte[] argument);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int descriptor, byte[] buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
