using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;

// In Virt.Hosting with AddVirt() and every backend's AddXxx(), so that a host composes the SDK with one using.
namespace Virt.Hosting;

/// <summary>Registers the network backend: <c>services.AddVirt().AddNetwork()</c>.</summary>
public static class NetworkVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="INetworkManager"/> and <see cref="INetworkPorts"/> (one <see cref="NetworkManager"/>, which
    /// keeps its state through the registered <see cref="IFileSystem"/> and runs dnsmasq through the registered
    /// <see cref="IProcessRunner"/>), each with <c>TryAdd</c>, and <see cref="NetworkOptions"/> through
    /// Microsoft.Extensions.Options: validated when the host starts (<c>ValidateOnStart</c>) or, without a host, when the
    /// manager is first resolved. The options can also be bound from configuration, e.g.
    /// <c>services.AddOptions&lt;NetworkOptions&gt;().BindConfiguration("Virt:Network")</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options; runs in registration order with any other <c>Configure</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddNetwork(this IVirtBuilder builder, Action<NetworkOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<NetworkOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NetworkOptions>, NetworkOptionsValidator>());
        builder.Services.TryAddSingleton(provider => provider.GetRequiredService<IOptions<NetworkOptions>>().Value);
        builder.Services.TryAddSingleton<IFileSystem, FileSystem>();
        builder.Services.TryAddSingleton<NetworkManager>();
        builder.Services.TryAddSingleton<INetworkManager>(provider => provider.GetRequiredService<NetworkManager>());
        builder.Services.TryAddSingleton<INetworkPorts>(provider => provider.GetRequiredService<NetworkManager>());
        return builder;
    }
}
