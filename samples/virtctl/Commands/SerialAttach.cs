using System.Net.Sockets;
using Virt.VirtualMachines;

namespace Virt.Ctl.Commands;

/// <summary>
/// An interactive serial console: the VM's serial unix socket joined to this terminal. Ctrl-] (0x1d)
/// detaches; when standard input ends (a script piped in), the output keeps flowing for the grace period.
/// </summary>
internal static class SerialAttach
{
    private const byte Detach = 0x1d;

    public static async Task<int> RunAsync(IVirtualMachine vm, TimeSpan grace, CancellationToken cancellationToken)
    {
        var path = vm.Endpoints.SerialSocket;
        if (path is null || !File.Exists(path))
        {
            throw new InvalidOperationException($"VM '{vm.Name}' has no serial console socket now: start it first (and keep SerialConsole on)");
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
        if (!Console.IsInputRedirected)
        {
            await Console.Error.WriteLineAsync($"attached to {vm.Name}'s serial console; Ctrl-] detaches");
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var output = Console.OpenStandardOutput();
        var toTerminal = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, read), stop.Token);
                await output.FlushAsync(stop.Token);
            }
        }, CancellationToken.None);
        var input = Console.OpenStandardInput();
        var inputBuffer = new byte[4096];
        int count;
        while ((count = await input.ReadAsync(inputBuffer, stop.Token)) > 0)
        {
            var detach = Array.IndexOf(inputBuffer, Detach, 0, count);
            await socket.SendAsync(inputBuffer.AsMemory(0, detach >= 0 ? detach : count), SocketFlags.None, stop.Token);
            if (detach >= 0)
            {
                break;
            }
        }

        // Input ended: let the guest's answer arrive, then detach.
        await Task.WhenAny(toTerminal, Task.Delay(grace, cancellationToken));
        await stop.CancelAsync();
        try
        {
            await toTerminal;
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
