using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Virt.Containers;
using Virt.Hosting;
using Virt.Lxc.Containers;

namespace Virt.Lxc.Hosting;

/// <summary>Registers the LXC backend: <c>services.AddVirt().AddLxc()</c>.</summary>
public static class LxcVirtBuilderExtensions
{
    /// <summary>Registers <see cref="IContainerManager"/> (LXC) and <see cref="LxcOptions"/> (each with <c>TryAdd</c>).</summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddLxc(this IVirtBuilder builder, Action<LxcOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new LxcOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<LxcContainerManager>();
        builder.Services.TryAddSingleton<IContainerManager>(provider => provider.GetRequiredService<LxcContainerManager>());
        return builder;
    }
}
