using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Virt.Processes;

namespace Virt.Hosting;

/// <summary>Registers the Virt SDK in a service collection.</summary>
public static class VirtServiceCollectionExtensions
{
    /// <summary>
    /// Registers the host seams every backend uses — <see cref="IFileSystem"/>, <see cref="IProcessRunner"/>
    /// and <see cref="TimeProvider"/> — with <c>TryAdd</c>, so a host application or a test harness can
    /// register its own first. Returns the builder that backends hang off.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder for <c>.AddKvm()</c> and the other backends.</returns>
    public static IVirtBuilder AddVirt(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IFileSystem, FileSystem>();
        services.TryAddSingleton<IProcessRunner, ProcessRunner>();
        return new VirtBuilder(services);
    }

    private sealed class VirtBuilder(IServiceCollection services) : IVirtBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
