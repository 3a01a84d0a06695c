using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

// In Virt.Hosting with AddVirt() and every backend's AddXxx(), so that a host composes the SDK with one using.
namespace Virt.Hosting;

/// <summary>Registers the KVM backend: <c>services.AddVirt().AddKvm()</c>.</summary>
public static class KvmVirtBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IVirtualMachineManager"/> (QEMU), <see cref="IQmpConnector"/>, <see cref="AcceleratorProbe"/> and
    /// <see cref="QemuCapabilityProbe"/> (each with <c>TryAdd</c>), and <see cref="KvmOptions"/> through
    /// Microsoft.Extensions.Options: validated when the host starts (<c>ValidateOnStart</c>) or, without a host, when
    /// the manager is first resolved. The options can also be bound from configuration, e.g.
    /// <c>services.AddOptions&lt;KvmOptions&gt;().BindConfiguration("Virt:Kvm")</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddVirt()</c>.</param>
    /// <param name="configure">Adjusts the options; runs in registration order with any other <c>Configure</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IVirtBuilder AddKvm(this IVirtBuilder builder, Action<KvmOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<KvmOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KvmOptions>, KvmOptionsValidator>());
        builder.Services.TryAddSingleton(provider => provider.GetRequiredService<IOptions<KvmOptions>>().Value);
        builder.Services.TryAddSingleton<IQmpConnector, QmpConnector>();
        builder.Services.TryAddSingleton<AcceleratorProbe>();
        builder.Services.TryAddSingleton<QemuCapabilityProbe>();
        builder.Services.TryAddSingleton<KvmVirtualMachineManager>();
        builder.Services.TryAddSingleton<IVirtualMachineManager>(provider => provider.GetRequiredService<KvmVirtualMachineManager>());
        return builder;
    }
}
