using Microsoft.Extensions.Options;

namespace Virt.Lxc.Hosting;

/// <summary>
/// Checks <see cref="LxcOptions"/> once, where the options are built (at host start with <c>ValidateOnStart</c>,
/// or when the manager is made), naming the option and the fix.
/// </summary>
internal sealed class LxcOptionsValidator : IValidateOptions<LxcOptions>
{
    /// <summary>
    /// LXC names each container's abstract command socket after the LXC path and the name, in a 108-byte
    /// sockaddr_un; a longer path leaves no room for container names.
    /// </summary>
    public const int MaxLxcPathLength = 64;

    public ValidateOptionsResult Validate(string? name, LxcOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        if (string.IsNullOrEmpty(options.LxcPath) || !options.LxcPath.StartsWith('/') || options.LxcPath.Length > MaxLxcPathLength || options.LxcPath.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            result.AddError($"LxcOptions.LxcPath '{options.LxcPath}' must be an absolute path of at most {MaxLxcPathLength} characters without whitespace: LXC names each container's command socket after it", nameof(LxcOptions.LxcPath));
        }

        foreach (var (option, value) in new[] { (nameof(LxcOptions.StartTimeout), options.StartTimeout), (nameof(LxcOptions.CommandSocketTimeout), options.CommandSocketTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                result.AddError($"LxcOptions.{option} is {value}: give a positive duration", option);
            }
        }

        if (options.IdMapBase <= 0 || options.IdMapSize <= 0)
        {
            result.AddError($"LxcOptions.IdMapBase ({options.IdMapBase}) and IdMapSize ({options.IdMapSize}) must be positive: an unprivileged container's root maps to IdMapBase on the host", nameof(LxcOptions.IdMapBase));
        }

        return result.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> for options that fail validation, for a manager made without dependency injection.</summary>
    public static void ThrowIfInvalid(LxcOptions options)
    {
        var result = new LxcOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new ArgumentException(result.FailureMessage, nameof(options));
        }
    }
}
