using Microsoft.Extensions.Options;

namespace Virt.Network.Hosting;

/// <summary>
/// Checks <see cref="NetworkOptions"/> once, where the options are built (at host start with <c>ValidateOnStart</c>, or
/// when the manager is made), naming the option and the fix.
/// </summary>
internal sealed class NetworkOptionsValidator : IValidateOptions<NetworkOptions>
{
    public ValidateOptionsResult Validate(string? name, NetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        if (string.IsNullOrEmpty(options.StateDirectory) || !options.StateDirectory.StartsWith('/') || options.StateDirectory.Any(char.IsControl))
        {
            result.AddError($"NetworkOptions.StateDirectory '{options.StateDirectory}' must be an absolute path, e.g. /var/lib/virt/network", nameof(NetworkOptions.StateDirectory));
        }

        if (options.LockTimeout <= TimeSpan.Zero)
        {
            result.AddError($"NetworkOptions.LockTimeout is {options.LockTimeout}: give a positive duration", nameof(NetworkOptions.LockTimeout));
        }

        if (string.IsNullOrEmpty(options.NftablesTable) || options.NftablesTable.Length > 32 || !options.NftablesTable.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            result.AddError($"NetworkOptions.NftablesTable '{options.NftablesTable}' must be 1-32 of a-z A-Z 0-9 _, e.g. virt", nameof(NetworkOptions.NftablesTable));
        }

        if (string.IsNullOrWhiteSpace(options.DnsmasqPath))
        {
            result.AddError("NetworkOptions.DnsmasqPath is empty: give dnsmasq's absolute path (Debian's dnsmasq-base installs /usr/sbin/dnsmasq)", nameof(NetworkOptions.DnsmasqPath));
        }

        if (options.NetworkNamespace is { } ns && (!ns.StartsWith('/') || ns.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))))
        {
            result.AddError($"NetworkOptions.NetworkNamespace '{ns}' must be a namespace's path (/run/netns/NAME or /proc/PID/ns/net, no spaces or control characters), or null for the process's own", nameof(NetworkOptions.NetworkNamespace));
        }

        return result.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> for options that fail validation, for a manager made without dependency injection.</summary>
    public static void ThrowIfInvalid(NetworkOptions options)
    {
        var result = new NetworkOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new ArgumentException(result.FailureMessage, nameof(options));
        }
    }
}
