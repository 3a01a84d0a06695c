using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.Kvm.Hosting;
using Virt.Kvm.Qmp;
using Virt.Passthrough;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Testing;

namespace Virt.Readme.Tests.Snippets;

/// <summary>The packages' own READMEs (src/*/README.md). Compiled, never run: they need a host.</summary>
internal static class PackageReadmes
{
    public static void Abstractions(IServiceCollection services)
    {
        #region src/Virt.Abstractions/README.md
        services.AddLogging();
        services.AddVirt().AddKvm();
        #endregion
    }

    public static int ErrorStatus(Exception exception)
    {
        #region src/Virt.Abstractions/README.md (errors)
        var status = VirtErrors.KindOf(exception) switch
        {
            VirtErrorKind.NotFound => 404,
            VirtErrorKind.InvalidInput => 400,
            VirtErrorKind.Conflict or VirtErrorKind.Refused => 409,
            VirtErrorKind.Unavailable => 503,
            VirtErrorKind.Timeout => 504,
            VirtErrorKind.Failed => 502,
            _ => 500, // not an error the SDK describes: log it
        };
        #endregion
        return status;
    }

    public static async Task KvmAsync()
    {
        #region src/Virt.Kvm/README.md
        await using var qmp = await QmpClient.ConnectAsync("/run/vm1/qmp.sock");
        var status = await qmp.QueryStatusAsync();
        var shutdown = qmp.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromSeconds(30));
        await qmp.SystemPowerdownAsync();
        await shutdown;
        #endregion
        GC.KeepAlive(status);
    }

    public static async Task PassthroughAsync(IServiceCollection services, IServiceProvider provider)
    {
        #region src/Virt.Passthrough/README.md
        services.AddVirt().AddKvm().AddPassthrough();
        var passthrough = provider.GetRequiredService<IPassthroughManager>();
        var report = passthrough.CheckReadiness();                       // iommu.enabled, vfio.modules, ... with fixes
        var plan = await passthrough.PlanAsync([PciAddress.Parse("0000:01:00.0")], new() { Owner = "vm:gamer" });
        if (!plan.CanApply) { /* plan.Blockers: group.member, host.boot-vga, host.block-device, ... */ }
        await passthrough.ApplyAsync(plan);                               // journal, override, unbind, probe, verify
        await passthrough.ReleaseAsync("vm:gamer");                       // original driver and override, exactly
        #endregion
        GC.KeepAlive(report);
    }

    public static void PassthroughTesting()
    {
        #region src/Virt.Passthrough.Testing/README.md
        var host = new FakePciHost()
            .WithDevice("0000:01:00.0", d => d.Ids(0x10de, 0x2684).Class(0x030000).Driver("nvidia").Group(1).BootVga())
            .WithDevice("0000:01:00.1", d => d.Ids(0x10de, 0x22ba).Class(0x040300).Driver("snd_hda_intel").Group(1));
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        host.FailWrite(host.WriteCount + 2, Errno.EBUSY);   // the third write from now fails
        host.BlockUnbind("0000:01:00.0");                    // an unbind that hangs until UnblockUnbinds()
        host.VanishAtWrite(host.WriteCount + 4, "0000:01:00.1");
        var before = host.Snapshot();                        // drivers and overrides, to compare after
        #endregion
        GC.KeepAlive(manager);
        GC.KeepAlive(before);
    }
}
