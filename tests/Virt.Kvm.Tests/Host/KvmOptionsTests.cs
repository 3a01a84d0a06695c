using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Virt.Hosting;
using Virt.Kvm.Hosting;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.Host;

/// <summary>KvmOptions go through Microsoft.Extensions.Options: configured by delegate or configuration, validated once, and a manager touches nothing on the host until it is used.</summary>
public sealed class KvmOptionsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("virt-kvm-options-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Options_bind_from_configuration_after_the_AddKvm_delegate()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Virt:Kvm:StateDirectory"] = "/srv/virt/vms",
            ["Virt:Kvm:LockTimeout"] = "00:00:05",
            ["Virt:Kvm:Qmp:DefaultTimeout"] = "00:00:09",
        }).Build();
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(kvm => kvm.RunAsUser = "virt");
        services.AddOptions<KvmOptions>().Configure(kvm => configuration.GetSection("Virt:Kvm").Bind(kvm));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<KvmOptions>();

        Assert.Same(provider.GetRequiredService<IOptions<KvmOptions>>().Value, options);
        Assert.Equal("/srv/virt/vms", options.StateDirectory);
        Assert.Equal(TimeSpan.FromSeconds(5), options.LockTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), options.Qmp.DefaultTimeout);
        Assert.Equal("virt", options.RunAsUser);
    }

    [Fact]
    public void Invalid_options_fail_once_naming_each_option_and_the_fix()
    {
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(kvm =>
        {
            kvm.StateDirectory = "relative/vms";
            kvm.SerialLogMaxBytes = 1000;
            kvm.LockTimeout = TimeSpan.Zero;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(provider.GetRequiredService<IVirtualMachineManager>);

        Assert.Contains("KvmOptions.StateDirectory 'relative/vms' must be an absolute path", error.Message, StringComparison.Ordinal);
        Assert.Contains("use at least 65536 (64 KiB), or 0 for no cap", error.Message, StringComparison.Ordinal);
        Assert.Contains("KvmOptions.LockTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manager_made_without_dependency_injection_checks_the_same_rules()
    {
        var error = Assert.Throws<ArgumentException>(() => new Virt.Kvm.VirtualMachines.KvmVirtualMachineManager(
            new KvmOptions { StateDirectory = _directory, SerialLogMaxBytes = 1 }, new Virt.Processes.ProcessRunner(), new Virt.Kvm.VirtualMachines.QemuCapabilityProbe(new Virt.Processes.ProcessRunner()), new Virt.Kvm.Host.AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System));

        Assert.Contains("SerialLogMaxBytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Making_a_manager_and_listing_creates_nothing_on_the_host()
    {
        var state = Path.Combine(_directory, "not-yet", "vms");
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(kvm => kvm.StateDirectory = state);
        await using var provider = services.BuildServiceProvider();

        var manager = provider.GetRequiredService<IVirtualMachineManager>();
        var listed = await manager.ListAsync(TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<VmNotFoundException>(() => manager.GetAsync("web", TestContext.Current.CancellationToken));

        Assert.Empty(listed);
        Assert.False(Directory.Exists(Path.Combine(_directory, "not-yet")));
    }
}
