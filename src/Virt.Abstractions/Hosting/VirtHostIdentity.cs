using System.Text.RegularExpressions;

namespace Virt.Hosting;

/// <summary>
/// This host's name among the hosts that share storage or migrate VMs to each other: it names the holder of a
/// cross-host volume lock, the destination in a migration ticket and the host's TLS certificate. Register it with
/// <see cref="VirtHostIdentityExtensions.UseHostName"/>; without it the machine's name is used.
/// </summary>
public sealed partial record VirtHostIdentity
{
    /// <summary>Creates the identity.</summary>
    /// <param name="name">A DNS-style name: letters, digits, dots and dashes, 1 to 63 characters.</param>
    /// <exception cref="ArgumentException">The name is empty or has other characters.</exception>
    public VirtHostIdentity(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 63 || !ValidName().IsMatch(name))
        {
            throw new ArgumentException($"host name '{name}' is not usable: give 1 to 63 letters, digits, dots or dashes, starting with a letter or digit", nameof(name));
        }

        Name = name;
    }

    /// <summary>The host's name.</summary>
    public string Name { get; }

    /// <summary>The identity of a host that registered none: the machine's name.</summary>
    public static VirtHostIdentity FromMachine() => new(Environment.MachineName);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9.-]*$")]
    private static partial Regex ValidName();
}

/// <summary>Registers this host's name.</summary>
public static class VirtHostIdentityExtensions
{
    /// <summary>Names this host for cross-host locks, migration tickets and TLS certificates.</summary>
    /// <param name="builder">The builder from <c>services.AddVirt()</c>.</param>
    /// <param name="hostName">The host's name.</param>
    /// <returns>The builder.</returns>
    public static IVirtBuilder UseHostName(this IVirtBuilder builder, string hostName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton(builder.Services, new VirtHostIdentity(hostName));
        return builder;
    }
}
