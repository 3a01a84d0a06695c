using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Virt.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.Hosting;

/// <summary>Registers the storage backend: <c>services.AddVirt().AddStorage()</c>.</summary>
public static class StorageVirtBuilderExtensions
{
    /// <summary>Registers <see cref="IStorageManager"/> and <see cref="IVolumeResolver"/> (one <see cref="StorageManager"/>) and <see cref="StorageOptions"/>, each with <c>TryAdd</c>.</summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddStorage(this IVirtBuilder builder, Action<StorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new StorageOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<StorageManager>();
        builder.Services.TryAddSingleton<IStorageManager>(provider => provider.GetRequiredService<StorageManager>());
        builder.Services.TryAddSingleton<IVolumeResolver>(provider => provider.GetRequiredService<StorageManager>());
        return builder;
    }
}
