using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Virt.Hosting;

namespace Virt.Passthrough.Hosting;

/// <summary>Registers the passthrough backend: <c>services.AddVirt().AddPassthrough()</c>.</summary>
public static class PassthroughVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IPassthroughManager"/> and <see cref="IHostDeviceBinder"/> (one
    /// <see cref="PassthroughManager"/>) and <see cref="PassthroughOptions"/>, each with <c>TryAdd</c>.
    /// With it, Virt.Kvm binds a VM's host devices before start and releases them after stop.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddPassthrough(this IVirtBuilder builder, Action<PassthroughOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new PassthroughOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<IFileSystem, FileSystem>();
        builder.Services.TryAddSingleton(provider => new PassthroughManager(provider.GetRequiredService<IFileSystem>(), provider.GetRequiredService<PassthroughOptions>(), provider.GetService<ILogger<PassthroughManager>>(), provider.GetService<TimeProvider>()));
        builder.Services.TryAddSingleton<IPassthroughManager>(provider => provider.GetRequiredService<PassthroughManager>());
        builder.Services.TryAddSingleton<IHostDeviceBinder>(provider => provider.GetRequiredService<PassthroughManager>());
        return builder;
    }
}
