using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Virt.Hosting;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

public sealed class HostingTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    public void Dispose() => _bed.Dispose();

    [Fact]
    public void AddNetwork_registers_one_manager_as_both_interfaces()
    {
        var services = new ServiceCollection();
        services.AddSingleton(_bed.NewManager());
        services.AddVirt().AddNetwork(o => o.StateDirectory = _bed.StateDirectory);
        using var provider = services.BuildServiceProvider();

        var manager = provider.GetRequiredService<INetworkManager>();

        Assert.Same(manager, provider.GetRequiredService<INetworkPorts>());
        Assert.IsType<NetworkManager>(manager);
        Assert.Equal(_bed.StateDirectory, provider.GetRequiredService<NetworkOptions>().StateDirectory);
    }

    [Fact]
    public void Bad_options_are_named()
    {
        var services = new ServiceCollection();
        services.AddVirt().AddNetwork(o =>
        {
            o.StateDirectory = "relative";
            o.LockTimeout = TimeSpan.Zero;
            o.NftablesTable = "bad name";
            o.NetworkNamespace = "lab";
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => { _ = provider.GetRequiredService<IOptions<NetworkOptions>>().Value; });

        Assert.Contains("NetworkOptions.StateDirectory 'relative'", error.Message, StringComparison.Ordinal);
        Assert.Contains("NetworkOptions.LockTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("NetworkOptions.NftablesTable 'bad name'", error.Message, StringComparison.Ordinal);
        Assert.Contains("NetworkOptions.NetworkNamespace 'lab' must be a namespace's path", error.Message, StringComparison.Ordinal);
    }
}
