using Microsoft.Extensions.DependencyInjection;
using Virt.Clustering;
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
        if (settings.Etcd is { } etcd)
        {
            services.AddVirt().AddCluster(cluster =>
            {
                foreach (var endpoint in etcd.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    cluster.Endpoints.Add(endpoint);
                }

                cluster.NodeName = settings.Node;
                cluster.KeyPrefix = settings.ClusterPrefix ?? cluster.KeyPrefix;
                cluster.StateDirectory = Path.Combine(settings.State, "cluster");
            });
        }

        _provider = services.BuildServiceProvider();
    }

    /// <summary>The cluster, when <c>--etcd</c> (or $VIRTCTL_ETCD) names it.</summary>
    public IClusterManager Cluster => _provider.GetService<IClusterManager>()
        ?? throw new ArgumentException("this command needs the cluster: give its etcd client URLs with --etcd http://HOST:2379,... (or set VIRTCTL_ETCD)");

    public IVirtualMachineManager Vms => _provider.GetRequiredService<IVirtualMachineManager>();

    public IContainerManager Containers => _provider.GetRequiredService<IContainerManager>();

    public IStorageManager Storage => _provider.GetRequiredService<IStorageManager>();

    public IPassthroughManager Passthrough => _provider.GetRequiredService<IPassthroughManager>();

    public INetworkManager Networks => _provider.GetRequiredService<INetworkManager>();

    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}
