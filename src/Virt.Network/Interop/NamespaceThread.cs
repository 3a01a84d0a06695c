using System.Runtime.InteropServices;
using Virt.Networking;

namespace Virt.Network.Interop;

/// <summary>
/// Runs work inside a network namespace. A socket (netlink, libnftables' context) belongs to the namespace of the thread
/// that opened it, so the work runs on a fresh thread that joins the namespace with setns(2) and ends afterwards; the
/// process's other threads never change namespace. With no namespace the work runs inline.
/// </summary>
internal static partial class NamespaceThread
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>Runs <paramref name="work"/> in <paramref name="namespacePath"/> (or here, for null) and returns its result.</summary>
    public static Task<T> RunAsync<T>(string? namespacePath, Func<T> work)
    {
        if (namespacePath is null)
        {
            return Task.FromResult(work());
        }

        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Enter(namespacePath);
                completion.SetResult(work());
            }
            catch (Exception exception)
            {
                completion.SetException(exception);
            }
        })
        {
            IsBackground = true,
            Name = "virt-netns",
        };
        thread.Start();
        return completion.Task;
    }

    /// <summary>Runs work that returns nothing in the namespace.</summary>
    public static Task RunAsync(string? namespacePath, Action work) => RunAsync<bool>(namespacePath, () =>
    {
        work();
        return true;
    });

    private static void Enter(string namespacePath)
    {
        using var handle = File.OpenHandle(namespacePath, FileMode.Open, FileAccess.Read);
        if (SetNs(handle.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new NetworkException(
                VirtErrorKind.Refused,
                $"cannot enter network namespace '{namespacePath}': setns failed with errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}); check that the path is a network namespace (/run/netns/NAME) and that the process runs as root");
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
