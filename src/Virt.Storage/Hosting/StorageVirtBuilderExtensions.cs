using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

// In Virt.Hosting with AddVirt() and every backend's AddXxx(), so that a host composes the SDK with one using.
namespace Virt.Hosting;

/// <summary>Registers the storage backend: <c>services.AddVirt().AddStorage()</c>.</summary>
public static class StorageVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IStorageManager"/>, <see cref="IVolumeResolver"/> and <see cref="IVolumeLocks"/> (one <see cref="StorageManager"/>, which
    /// names this host by the registered <see cref="VirtHostIdentity"/> (<c>UseHostName</c>; the machine's name without one) and
    /// reaches the host's files through the registered <see cref="IFileSystem"/>: the real one unless the host put
    /// another first), each with <c>TryAdd</c>, and <see cref="StorageOptions"/> through Microsoft.Extensions.Options: validated when the
    /// host starts (<c>ValidateOnStart</c>) or, without a host, when the manager is first resolved. The options can
    /// also be bound from configuration, e.g. <c>services.AddOptions&lt;StorageOptions&gt;().BindConfiguration("Virt:Storage")</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options; runs in registration order with any other <c>Configure</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddStorage(this IVirtBuilder builder, Action<StorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<StorageOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>());
        builder.Services.TryAddSingleton(provider => provider.GetRequiredService<IOptions<StorageOptions>>().Value);
        builder.Services.TryAddSingleton<IFileSystem, FileSystem>();
        builder.Services.TryAddSingleton<StorageManager>();
        builder.Services.TryAddSingleton<IStorageManager>(provider => provider.GetRequiredService<StorageManager>());
        builder.Services.TryAddSingleton<IVolumeResolver>(provider => provider.GetRequiredService<StorageManager>());
        builder.Services.TryAddSingleton<IVolumeLocks>(provider => provider.GetRequiredService<StorageManager>());
        return builder;
    }
}
