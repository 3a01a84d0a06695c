using Microsoft.Extensions.DependencyInjection;
using Virt.Containers;
using Virt.Hosting;
using Virt.Networking;
using Virt.Passthrough;
using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Ctl.Infrastructure;

/// <summary>The SDK composed the way an application would: every backend, state under one directory.</summary>
internal sealed class VirtHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    public VirtHost(GlobalSettings settings)
    {
        var services = new ServiceCollection();
        services.AddVirt()
            .AddKvm(kvm => kvm.StateDirectory = Path.Combine(settings.State, "vms"))
            .AddLxc(lxc => lxc.LxcPath = Path.Combine(settings.State, "lxc"))
            .AddStorage(storage => storage.StateDirectory = Path.Combine(settings.State, "storage"))
            .AddPassthrough(passthrough => passthrough.StateDirectory = Path.Combine(settings.State, "passthrough"))
            .AddNetwork(network =>
            {
                network.StateDirectory = Path.Combine(settings.State, "network");
                network.NetworkNamespace = settings.NetworkNamespace;
            });
        _provider = services.BuildServiceProvider();
    }

    public IVirtualMachineManager Vms => _provider.GetRequiredService<IVirtualMachineManager>();

    public IContainerManager Containers => _provider.GetRequiredService<IContainerManager>();

    public IStorageManager Storage => _provider.GetRequiredService<IStorageManager>();

    public IPassthroughManager Passthrough => _provider.GetRequiredService<IPassthroughManager>();

    public INetworkManager Networks => _provider.GetRequiredService<INetworkManager>();

    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}
