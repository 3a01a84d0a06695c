using System.Net.Sockets;
using System.Text;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The serial console socket is interactive and VNC answers on its unix socket.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class ConsoleTests
{
    [Fact(Timeout = 180_000)]
    public async Task The_serial_console_socket_runs_commands_and_VNC_speaks_RFB()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("console") with { Vnc = new VmVnc() }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

        using (var console = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await console.ConnectAsync(new UnixDomainSocketEndPoint(vm.Endpoints.SerialSocket!), ct);
            var seen = new StringBuilder();
            var buffer = new byte[4096];
            for (var attempt = 0; attempt < 20 && !seen.ToString().Contains("console-ok-42", StringComparison.Ordinal); attempt++)
            {
                await console.SendAsync("echo console-ok-$((40+2))\n"u8.ToArray(), ct);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(TimeSpan.FromSeconds(1));
                try
                {
                    while (!seen.ToString().Contains("console-ok-42", StringComparison.Ordinal))
                    {
                        var read = await console.ReceiveAsync(buffer, wait.Token);
                        seen.Append(Encoding.UTF8.GetString(buffer, 0, read));
                    }
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // The shell was not ready yet: type again.
                }
            }

            Assert.Contains("console-ok-42", seen.ToString(), StringComparison.Ordinal);
        }

        Assert.Contains("console-ok-42", await File.ReadAllTextAsync(vm.Endpoints.SerialLog, ct), StringComparison.Ordinal);
        Assert.StartsWith("unix:", vm.Endpoints.Vnc, StringComparison.Ordinal);
        using (var vnc = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await vnc.ConnectAsync(new UnixDomainSocketEndPoint(vm.Endpoints.Vnc!["unix:".Length..]), ct);
            var greeting = new byte[12];
            await vnc.ReceiveAsync(greeting, ct);
            Assert.Equal("RFB 003.008\n", Encoding.ASCII.GetString(greeting));
        }

        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task VNC_on_loopback_answers_RFB_and_its_websocket_upgrades()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var display = 40 + (Environment.ProcessId % 50);
        var websocket = 15700 + (Environment.ProcessId % 200);
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("vnctcp") with { Vnc = new VmVnc { UnixSocket = false, Display = display, WebSocketPort = websocket } }, ct);
        await vm.StartAsync(ct);

        Assert.Equal($"127.0.0.1:{5900 + display}", vm.Endpoints.Vnc);
        using (var vnc = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await vnc.ConnectAsync(System.Net.IPAddress.Loopback, 5900 + display, ct);
            var greeting = new byte[12];
            await vnc.ReceiveAsync(greeting, ct);
            Assert.Equal("RFB 003.008\n", Encoding.ASCII.GetString(greeting));
        }

        using (var ws = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await ws.ConnectAsync(System.Net.IPAddress.Loopback, websocket, ct);
            var request = $"GET / HTTP/1.1\r\nHost: 127.0.0.1:{websocket}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n";
            await ws.SendAsync(Encoding.ASCII.GetBytes(request), ct);
            var reply = new byte[1024];
            var read = await ws.ReceiveAsync(reply, ct);
            Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString(reply, 0, read), StringComparison.Ordinal);
        }

        await vm.KillAsync(ct);
    }
}
