using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Virt.Hosting;
using Virt.Kvm.Host;
using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Kvm.Hosting;

/// <summary>Registers the KVM backend: <c>services.AddVirt().AddKvm()</c>.</summary>
public static class KvmVirtBuilderExtensions
{
    /// <summary>Registers <see cref="IVirtualMachineManager"/> (QEMU), <see cref="IQmpConnector"/>, <see cref="AcceleratorProbe"/>, <see cref="QemuCapabilityProbe"/> and <see cref="KvmOptions"/> (each with <c>TryAdd</c>).</summary>
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
        builder.Services.TryAddSingleton<QemuCapabilityProbe>();
        builder.Services.TryAddSingleton<KvmVirtualMachineManager>();
        builder.Services.TryAddSingleton<IVirtualMachineManager>(provider => provider.GetRequiredService<KvmVirtualMachineManager>());
        return builder;
    }
}
