using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.Testing;
using Virt.Kvm.Tests.Fakes;

namespace Virt.Kvm.Tests.Host;

public sealed class KvmRegistrationTests
{
    [Fact]
    public async Task AddKvm_wires_a_connector_that_uses_the_configured_options()
    {
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(options => options.Qmp = options.Qmp with { DefaultTimeout = TimeSpan.FromSeconds(7) });
        await using var provider = services.BuildServiceProvider();
        await using var server = new FakeQmpServer();

        var connector = provider.GetRequiredService<IQmpConnector>();
        await using var client = await connector.ConnectQmpAsync(server.SocketPath, TestContext.Current.CancellationToken);

        Assert.True((await Virt.Kvm.Qmp.QmpCommands.QueryStatusAsync(client, TestContext.Current.CancellationToken)).Running);
        Assert.Equal(TimeSpan.FromSeconds(7), provider.GetRequiredService<KvmOptions>().Qmp.DefaultTimeout);
        Assert.NotNull(provider.GetRequiredService<AcceleratorProbe>());
    }
}
