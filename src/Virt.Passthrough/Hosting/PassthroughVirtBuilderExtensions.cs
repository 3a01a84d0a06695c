using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Virt.Passthrough;
using Virt.Passthrough.Hosting;

// In Virt.Hosting with AddVirt() and every backend's AddXxx(), so that a host composes the SDK with one using.
namespace Virt.Hosting;

/// <summary>Registers the passthrough backend: <c>services.AddVirt().AddPassthrough()</c>.</summary>
public static class PassthroughVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IPassthroughManager"/> and <see cref="IHostDeviceBinder"/> (one
    /// <see cref="PassthroughManager"/>), each with <c>TryAdd</c>, and <see cref="PassthroughOptions"/> through
    /// Microsoft.Extensions.Options: validated when the host starts (<c>ValidateOnStart</c>) or, without a host, when
    /// the manager is first resolved. The options can also be bound from configuration, e.g.
    /// <c>services.AddOptions&lt;PassthroughOptions&gt;().BindConfiguration("Virt:Passthrough")</c>.
    /// With it, Virt.Kvm binds a VM's host devices before start and releases them after stop.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options; runs in registration order with any other <c>Configure</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddPassthrough(this IVirtBuilder builder, Action<PassthroughOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<PassthroughOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PassthroughOptions>, PassthroughOptionsValidator>());
        builder.Services.TryAddSingleton(provider => provider.GetRequiredService<IOptions<PassthroughOptions>>().Value);
        builder.Services.TryAddSingleton<IFileSystem, FileSystem>();
        builder.Services.TryAddSingleton(provider => new PassthroughManager(provider.GetRequiredService<IFileSystem>(), provider.GetRequiredService<PassthroughOptions>(), provider.GetService<ILogger<PassthroughManager>>(), provider.GetService<TimeProvider>()));
        builder.Services.TryAddSingleton<IPassthroughManager>(provider => provider.GetRequiredService<PassthroughManager>());
        builder.Services.TryAddSingleton<IHostDeviceBinder>(provider => provider.GetRequiredService<PassthroughManager>());
        return builder;
    }
}
