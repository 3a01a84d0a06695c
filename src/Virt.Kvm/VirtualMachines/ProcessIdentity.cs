using System.Globalization;
using Virt.Kvm.Interop;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Reads /proc to tell whether a pid is still the process it was (pid reuse) and what it runs. The real
/// file system, not the injected one: /proc describes the host's live processes (reached through
/// <see cref="IQemuHost"/>, which unit tests replace).
/// </summary>
internal static class ProcessIdentity
{
    /// <summary>The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or null when it does not exist or is a zombie.</summary>
    public static long? StartTicks(int pid) =>
        StatFieldsAfterName(pid) is { } fields && fields[0] != "Z" ? long.Parse(fields[19], CultureInfo.InvariantCulture) : null;

    /// <summary>Whether the pid is a zombie that started at <paramref name="startTicks"/>: the recorded process, exited and not yet collected.</summary>
    public static bool IsZombieOf(int pid, long startTicks) =>
        StatFieldsAfterName(pid) is { } fields && fields[0] == "Z" && fields[19] == startTicks.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A process descriptor for the pid, or null when no process has it or the kernel has no
    /// pidfd_open (before 5.3; callers then check the identity right before each signal).
    /// </summary>
    public static PidFd? TryOpen(int pid)
    {
        try
        {
            return PidFd.Open(pid);
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the recorded pid is still this VM's QEMU; when it is, <paramref name="handle"/> holds
    /// a descriptor opened before the check, so it names that very process (null only on kernels
    /// without pidfd). The descriptor is opened first and the identity checked after: a process that
    /// still has the recorded start time held the pid all along, so the descriptor is of it.
    /// </summary>
    public static bool IsSameQemu(VmRuntimeRecord record, string vmName, out PidFd? handle)
    {
        handle = TryOpen(record.Pid);
        if (!IsSameQemu(record, vmName))
        {
            handle?.Dispose();
            handle = null;
            return false;
        }

        return true;
    }

    /// <summary>The parent pid of a process (field 4 of /proc/PID/stat), or null when it does not exist.</summary>
    public static int? ParentPid(int pid) =>
        StatFieldsAfterName(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : null;

    /// <summary>Fields 3 onwards of /proc/PID/stat (state, ppid, ...), or null when the process is gone.</summary>
    private static string[]? StatFieldsAfterName(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>The process's argv, or an empty list when it is gone.</summary>
    public static IReadOnlyList<string> CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Whether the pid is the QEMU recorded for this VM: same start time and <c>-name guest=NAME</c> on its command line.</summary>
    public static bool IsSameQemu(VmRuntimeRecord record, string vmName)
    {
        if (StartTicks(record.Pid) != record.ProcessStartTicks)
        {
            return false;
        }

        var argv = CommandLine(record.Pid);
        var nameIndex = argv.ToList().IndexOf("-name");
        return nameIndex >= 0 && nameIndex + 1 < argv.Count && argv[nameIndex + 1].StartsWith($"guest={QemuOptionValue.Escape(vmName, "VM name")},", StringComparison.Ordinal);
    }
}
