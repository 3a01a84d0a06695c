using System.Runtime.InteropServices;

namespace Virt.Network.Dhcp;

/// <summary>Sends signals to processes by pid; faked in unit tests so that they never signal a real process.</summary>
internal interface IProcessSignals
{
    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when no such process exists (ESRCH).</summary>
    bool Send(int pid, int signal);
}

/// <summary>kill(2).</summary>
internal sealed partial class ProcessSignals : IProcessSignals
{
    public const int SigHup = 1;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private const int NoSuchProcess = 3; // ESRCH

    public static ProcessSignals Instance { get; } = new();

    public bool Send(int pid, int signal)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        if (Kill(pid, signal) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == NoSuchProcess
            ? false
            : throw new Virt.Networking.NetworkException($"could not send signal {signal} to process {pid}: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}); the SDK must run as root to manage dnsmasq");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
