using Microsoft.Extensions.DependencyInjection;

namespace Virt.Hosting;

/// <summary>What <c>services.AddVirt()</c> returns: backends hang their registration off it (<c>.AddKvm()</c>...).</summary>
public interface IVirtBuilder
{
    /// <summary>The service collection the SDK registers into.</summary>
    IServiceCollection Services { get; }
}
