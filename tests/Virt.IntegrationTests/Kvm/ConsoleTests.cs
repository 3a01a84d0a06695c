using System.Net.Sockets;
using System.Text;
using Virt.IntegrationTests.Infrastructure;
using Virt.VirtualMachines;

namespace Virt.IntegrationTests.Kvm;

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
}
