using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.Kvm.Hosting;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Readme.Tests.Snippets;

/// <summary>Compiled, never run: it needs a running QEMU.</summary>
internal static class QmpClientSnippet
{
    public static async Task RunAsync()
    {
        #region README.md: the QMP client
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(kvm => kvm.Qmp = kvm.Qmp with { DefaultTimeout = TimeSpan.FromSeconds(10) });
        await using var provider = services.BuildServiceProvider();

        var connector = provider.GetRequiredService<IQmpConnector>();
        await using var qmp = await connector.ConnectQmpAsync("/run/vm1/qmp.sock");
        Console.WriteLine($"QEMU {qmp.Greeting.Version}: {(await qmp.QueryStatusAsync()).Status}");

        var shutdown = qmp.WaitForEventAsync<ShutdownEvent>(null, TimeSpan.FromSeconds(30)); // start waiting first
        await qmp.SystemPowerdownAsync();                                                     // then press the button
        Console.WriteLine((await shutdown).Reason);                                           // guest-shutdown

        // Every command and event of QEMU 7.2 and 10.0 is typed, generated from QEMU's own schema.
        await qmp.BlockdevAddAsync(new BlockdevAddArgumentsQcow2
        {
            NodeName = "disk1",
            File = new BlockdevAddArgumentsBlkdebugImage(new BlockdevAddArgumentsFile { Filename = "/var/lib/images/disk1.qcow2" }),
        });
        #endregion
    }
}
