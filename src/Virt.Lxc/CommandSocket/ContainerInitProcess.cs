using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Virt.Containers;
using Virt.Lxc.Interop;

namespace Virt.Lxc.CommandSocket;

/// <summary>
/// A container's init, pinned by a pidfd. A pid from the command socket is only a number: the process
/// may exit and the number go to another process before <c>/proc/&lt;pid&gt;/...</c> is opened. So the
/// pidfd is opened first, the process is checked to be this container's init (its parent is the
/// container's LXC monitor, <c>[lxc monitor] &lt;lxcpath&gt; &lt;name&gt;</c>, run by root), and whatever
/// is opened through <c>/proc/&lt;pid&gt;</c> afterwards counts only if <see cref="IsAlive"/> still holds:
/// while the pidfd's process has not been reaped, no other process can have its pid.
/// </summary>
internal sealed class ContainerInitProcess : IDisposable
{
    private readonly SafeFileHandle _pidfd;

    private ContainerInitProcess(int pid, SafeFileHandle pidfd)
    {
        Pid = pid;
        _pidfd = pidfd;
    }

    public int Pid { get; }

    /// <summary>True while the pinned process exists (a zombie counts: its pid is still taken).</summary>
    public bool IsAlive => !_pidfd.IsClosed && LibC.PidfdIsAlive((int)_pidfd.DangerousGetHandle());

    /// <summary>
    /// Pins <paramref name="pid"/> and checks it is the init of container <paramref name="name"/>;
    /// <see langword="null"/> when the process has already gone (the container is stopping).
    /// </summary>
    /// <exception cref="VirtException">The pid belongs to some other process.</exception>
    public static ContainerInitProcess? Open(string lxcPath, string name, int pid, string socketName)
    {
        if (pid <= 1)
        {
            throw NotInit(name, pid, socketName, "that is no container's init");
        }

        var fd = LibC.PidfdOpen(pid);
        if (fd < 0)
        {
            if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == LibC.Esrch)
            {
                return null;
            }

            throw new ContainerException(VirtErrorKind.Refused, $"container '{name}': cannot pin its init pid {pid.ToString(CultureInfo.InvariantCulture)} with pidfd_open: {LibC.LastError()}; the SDK needs Linux 5.3 or later");
        }

        var init = new ContainerInitProcess(pid, new SafeFileHandle(fd, ownsHandle: true));
        try
        {
            var problem = CheckIsInitOf(lxcPath, name, pid);
            if (!init.IsAlive)
            {
                // It exited while being checked: whatever /proc said may have been another process's.
                init.Dispose();
                return null;
            }

            if (problem is not null)
            {
                throw NotInit(name, pid, socketName, problem);
            }

            return init;
        }
        catch
        {
            init.Dispose();
            throw;
        }
    }

    public void Dispose() => _pidfd.Dispose();

    /// <summary>Why <paramref name="pid"/> is not the init of the container, or null when it is.</summary>
    /// <remarks>
    /// Reads the host's real <c>/proc</c>, not an <see cref="System.IO.Abstractions.IFileSystem"/>: the check is
    /// about the live process the pidfd pinned, and only the kernel's /proc can vouch for it.
    /// </remarks>
    private static string? CheckIsInitOf(string lxcPath, string name, int pid)
    {
        var parent = ReadStatusField(pid, "PPid:");
        if (parent is null || !int.TryParse(parent, NumberStyles.None, CultureInfo.InvariantCulture, out var monitor) || monitor <= 1)
        {
            return $"its parent is {parent ?? "unknown"}, not the container's LXC monitor";
        }

        var monitorUid = ReadStatusField(monitor, "Uid:")?.Split('\t', ' ')[0];
        if (monitorUid is null || !uint.TryParse(monitorUid, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) || (uid != 0 && uid != LibC.GetEuid()))
        {
            return $"its parent (pid {monitor.ToString(CultureInfo.InvariantCulture)}) runs as uid {monitorUid ?? "unknown"}, and LXC's monitor runs as root";
        }

        string title;
        try
        {
            title = File.ReadAllText($"/proc/{monitor.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return $"its parent (pid {monitor.ToString(CultureInfo.InvariantCulture)}) has gone";
        }

        var expected = $"[lxc monitor] {lxcPath.TrimEnd('/')} {name}";
        if (!string.Equals(title, expected, StringComparison.Ordinal) && !string.Equals(title, $"[lxc monitor] {lxcPath} {name}", StringComparison.Ordinal))
        {
            return $"its parent (pid {monitor.ToString(CultureInfo.InvariantCulture)}) is '{Shorten(title)}', not '{expected}' (the SDK starts containers with lxc-start -d, whose monitor has that title)";
        }

        return null;
    }

    private static string? ReadStatusField(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return line[field.Length..].Trim();
                }
            }
        }
        catch (IOException)
        {
            // Gone: the caller reports an unknown parent.
        }

        return null;
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";

    private static ContainerException NotInit(string name, int pid, string socketName, string problem) =>
        new(VirtErrorKind.Failed, $"container '{name}': its command socket @{socketName} reported init pid {pid.ToString(CultureInfo.InvariantCulture)}, but {problem}; the socket does not belong to the container's LXC monitor — find who holds it with 'ss -xlp | grep {socketName}'");
}
