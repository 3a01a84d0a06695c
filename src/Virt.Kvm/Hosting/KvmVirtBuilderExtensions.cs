using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Virt.Hosting;
using Virt.Kvm.Host;

namespace Virt.Kvm.Hosting;

/// <summary>Registers the KVM backend: <c>services.AddVirt().AddKvm()</c>.</summary>
public static class KvmVirtBuilderExtensions
{
    /// <summary>Registers <see cref="IQmpConnector"/>, <see cref="AcceleratorProbe"/> and <see cref="KvmOptions"/> (each with <c>TryAdd</c>).</summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddKvm(this IVirtBuilder builder, Action<KvmOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new KvmOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<IQmpConnector, QmpConnector>();
        builder.Services.TryAddSingleton<AcceleratorProbe>();
        return builder;
    }
}
