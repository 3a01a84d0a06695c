using Microsoft.Extensions.Options;
using Virt.Cluster.Store;

namespace Virt.Clustering;

/// <summary>Checks <see cref="ClusterOptions"/> once, where the options are built, naming the option and the fix.</summary>
internal sealed class ClusterOptionsValidator : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        if (options.Endpoints.Count == 0)
        {
            result.AddError("ClusterOptions.Endpoints is empty: give etcd's client URLs, e.g. http://10.0.0.1:2379 (every member)", nameof(ClusterOptions.Endpoints));
        }

        foreach (var endpoint in options.Endpoints)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.AbsolutePath != "/" || uri.Port <= 0)
            {
                result.AddError($"ClusterOptions.Endpoints has '{endpoint}': give an etcd client URL with scheme, host and port, e.g. http://10.0.0.1:2379", nameof(ClusterOptions.Endpoints));
            }
        }

        if (options.NodeName is { } node && !ClusterNames.IsValid(node))
        {
            result.AddError($"ClusterOptions.NodeName '{node}' is not usable: {ClusterNames.Rule}", nameof(ClusterOptions.NodeName));
        }

        foreach (var (key, value) in options.NodeValues)
        {
            if (!Virt.Cluster.Definitions.NodeValuePlaceholders.IsKey(key) || string.IsNullOrEmpty(value) || value.Any(char.IsControl))
            {
                result.AddError($"ClusterOptions.NodeValues has '{key}' = '{value}': keys are lowercase letters, digits and '-' (e.g. underlay), values non-empty text without control characters (e.g. 192.0.2.1)", nameof(ClusterOptions.NodeValues));
            }
        }

        if (options.LeaseTtl < TimeSpan.FromSeconds(2) || options.LeaseTtl > TimeSpan.FromHours(1) || options.LeaseTtl.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            result.AddError($"ClusterOptions.LeaseTtl is {options.LeaseTtl}: give whole seconds from 2 s to 1 h (etcd counts leases in seconds), e.g. 10 s", nameof(ClusterOptions.LeaseTtl));
        }

        if (options.DrainPickupTimeout <= TimeSpan.Zero)
        {
            result.AddError($"ClusterOptions.DrainPickupTimeout is {options.DrainPickupTimeout}: give a positive duration, e.g. 30 s", nameof(ClusterOptions.DrainPickupTimeout));
        }

        if (options.OperationTimeout <= TimeSpan.Zero)
        {
            result.AddError($"ClusterOptions.OperationTimeout is {options.OperationTimeout}: give a positive duration, e.g. 5 s", nameof(ClusterOptions.OperationTimeout));
        }

        if (string.IsNullOrEmpty(options.KeyPrefix) || !options.KeyPrefix.StartsWith('/') || !options.KeyPrefix.EndsWith('/') || options.KeyPrefix.Any(char.IsControl))
        {
            result.AddError($"ClusterOptions.KeyPrefix '{options.KeyPrefix}' must start and end with '/', e.g. /virt/", nameof(ClusterOptions.KeyPrefix));
        }

        if (string.IsNullOrEmpty(options.StateDirectory) || !options.StateDirectory.StartsWith('/') || options.StateDirectory.Any(char.IsControl))
        {
            result.AddError($"ClusterOptions.StateDirectory '{options.StateDirectory}' must be an absolute path, e.g. /var/lib/virt/cluster", nameof(ClusterOptions.StateDirectory));
        }

        return result.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> for options that fail validation, for a manager made without dependency injection.</summary>
    public static void ThrowIfInvalid(ClusterOptions options)
    {
        var result = new ClusterOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new ArgumentException(result.FailureMessage, nameof(options));
        }
    }
}
