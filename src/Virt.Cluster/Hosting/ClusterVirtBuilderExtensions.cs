using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Virt.Cluster.Membership;
using Virt.Clustering;

// In Virt.Hosting with AddVirt() and every backend's AddXxx(), so that a host composes the SDK with one using.
namespace Virt.Hosting;

/// <summary>Registers the cluster layer: <c>services.AddVirt().AddCluster(o => o.Endpoints.Add("http://10.0.0.1:2379"))</c>.</summary>
public static class ClusterVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IClusterManager"/> and <see cref="IGuestStartGate"/> (one <see cref="ClusterManager"/>: the VM and
    /// container managers then start a clustered guest only on its owner node) with <c>TryAdd</c>, and
    /// <see cref="ClusterOptions"/> through Microsoft.Extensions.Options, validated when the host starts
    /// (<c>ValidateOnStart</c>) or, without a host, when the manager is first resolved. The node's name defaults to the
    /// registered <see cref="VirtHostIdentity"/>. Resolving the manager connects nothing: call
    /// <see cref="IClusterManager.JoinAsync"/> in the process that runs the node's guests.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddCluster(this IVirtBuilder builder, Action<ClusterOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<ClusterOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>());
        builder.Services.TryAddSingleton<IFileSystem, FileSystem>();
        builder.Services.TryAddSingleton(provider =>
        {
            var clusterOptions = provider.GetRequiredService<IOptions<ClusterOptions>>().Value;
            return new ClusterManager(
            clusterOptions,
            provider.GetService<VirtHostIdentity>(),
            new HostCapacityProbe(provider, qemuPath: clusterOptions.QemuPath),
            provider.GetRequiredService<IFileSystem>(),
            provider.GetService<Microsoft.Extensions.Logging.ILogger<ClusterManager>>(),
            provider.GetService<TimeProvider>());
        });
        builder.Services.TryAddSingleton<IClusterManager>(provider => provider.GetRequiredService<ClusterManager>());
        builder.Services.TryAddSingleton<IGuestStartGate>(provider => provider.GetRequiredService<ClusterManager>());
        return builder;
    }

    /// <summary>
    /// Registers the <see cref="ClusterHaAgent"/> of this node (after <see cref="AddCluster"/> and the KVM backend's
    /// <c>AddKvm()</c>; it checks HA VMs' disks, and fences a dead node's RBD locks on them, through the storage backend where
    /// <c>AddStorage()</c> registered one). The
    /// host application starts it (<see cref="ClusterHaAgent.StartAsync"/>) in the process that joined the cluster.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the HA timings.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddClusterHa(this IVirtBuilder builder, Action<ClusterHaOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new ClusterHaOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(provider => new ClusterHaAgent(
            RequireNodeNamedAsHost(provider),
            provider.GetRequiredService<Virt.VirtualMachines.IVirtualMachineManager>(),
            provider.GetService<Virt.Storage.IStorageManager>(),
            options,
            provider.GetService<Microsoft.Extensions.Logging.ILogger<ClusterHaAgent>>(),
            provider.GetService<TimeProvider>(),
            provider.GetService<Virt.Storage.IVolumeLocks>()));
        return builder;
    }

    /// <summary>
    /// Registers the <see cref="ClusterMigrationAgent"/> of this node (after <see cref="AddCluster"/> and the KVM backend's
    /// <c>AddKvm()</c>; it stops containers on a drain through the LXC backend where <c>AddLxc()</c> registered one). The host
    /// application starts it (<see cref="ClusterMigrationAgent.StartAsync"/>) in the process that joined the cluster; it is
    /// what receives VMs from the other nodes and carries out drains.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Sets the address to receive on, TLS and the drain policy.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddClusterMigration(this IVirtBuilder builder, Action<ClusterMigrationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new ClusterMigrationOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(provider => new ClusterMigrationAgent(
            provider.GetRequiredService<ClusterManager>(),
            provider.GetRequiredService<Virt.VirtualMachines.IVirtualMachineManager>(),
            provider.GetService<Virt.Containers.IContainerManager>(),
            options,
            provider.GetService<Microsoft.Extensions.Logging.ILogger<ClusterMigrationAgent>>(),
            provider.GetService<TimeProvider>()));
        return builder;
    }

    /// <summary>
    /// Registers the <see cref="ClusterDefinitionReconciler"/> of this node (after <see cref="AddCluster"/>; it applies shared
    /// networks through the network backend and defines shared pools through the storage backend, where registered). The host
    /// application starts it (<see cref="ClusterDefinitionReconciler.StartAsync"/>) in the process that joined the cluster.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddClusterDefinitions(this IVirtBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(provider => new ClusterDefinitionReconciler(
            provider.GetRequiredService<ClusterManager>(),
            provider.GetService<Virt.Networking.INetworkManager>(),
            provider.GetService<Virt.Storage.IStorageManager>(),
            provider.GetService<Microsoft.Extensions.Logging.ILogger<ClusterDefinitionReconciler>>(),
            provider.GetService<TimeProvider>()));
        return builder;
    }

    /// <summary>
    /// The cluster manager, whose node name must be the host's name: the storage backend's cross-host locks name the host,
    /// and the HA agent fences a holder only when that name is a dead node's.
    /// </summary>
    private static ClusterManager RequireNodeNamedAsHost(IServiceProvider provider)
    {
        var cluster = provider.GetRequiredService<ClusterManager>();
        if (provider.GetService<VirtHostIdentity>() is { } host && host.Name != cluster.NodeName)
        {
            throw new InvalidOperationException($"the cluster node name '{cluster.NodeName}' differs from the host's name '{host.Name}': the storage locks name the host, so the HA agent could not tell a dead node's locks; leave ClusterOptions.NodeName unset (it defaults to the host's name) or use the same name in UseHostName");
        }

        return cluster;
    }
}
