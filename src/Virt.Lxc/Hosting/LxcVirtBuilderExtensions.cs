using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;

// In Virt.Hosting with AddVirt() and every backend's AddXxx(), so that a host composes the SDK with one using.
namespace Virt.Hosting;

/// <summary>Registers the LXC backend: <c>services.AddVirt().AddLxc()</c>.</summary>
public static class LxcVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IContainerManager"/> (LXC) with <c>TryAdd</c>, and <see cref="LxcOptions"/> through
    /// Microsoft.Extensions.Options: validated when the host starts (<c>ValidateOnStart</c>) or, without a host, when
    /// the manager is first resolved. The options can also be bound from configuration, e.g.
    /// <c>services.AddOptions&lt;LxcOptions&gt;().BindConfiguration("Virt:Lxc")</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options; runs in registration order with any other <c>Configure</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddLxc(this IVirtBuilder builder, Action<LxcOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<LxcOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LxcOptions>, LxcOptionsValidator>());
        builder.Services.TryAddSingleton(provider => provider.GetRequiredService<IOptions<LxcOptions>>().Value);
        builder.Services.TryAddSingleton<LxcContainerManager>();
        builder.Services.TryAddSingleton<IContainerManager>(provider => provider.GetRequiredService<LxcContainerManager>());
        return builder;
    }
}
