using Microsoft.Extensions.Options;

namespace Virt.Passthrough.Hosting;

/// <summary>
/// Checks <see cref="PassthroughOptions"/> once, where the options are built (at host start with <c>ValidateOnStart</c>,
/// or when the manager is made), naming the option and the fix.
/// </summary>
internal sealed class PassthroughOptionsValidator : IValidateOptions<PassthroughOptions>
{
    public ValidateOptionsResult Validate(string? name, PassthroughOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        foreach (var (option, value) in new[] { (nameof(PassthroughOptions.SysfsRoot), options.SysfsRoot), (nameof(PassthroughOptions.ProcRoot), options.ProcRoot), (nameof(PassthroughOptions.DevRoot), options.DevRoot), (nameof(PassthroughOptions.StateDirectory), options.StateDirectory) })
        {
            if (string.IsNullOrEmpty(value) || !value.StartsWith('/') || value.Any(char.IsControl))
            {
                result.AddError($"PassthroughOptions.{option} '{value}' must be an absolute path", option);
            }
        }

        foreach (var (option, value) in new[] { (nameof(PassthroughOptions.LockTimeout), options.LockTimeout), (nameof(PassthroughOptions.WriteTimeout), options.WriteTimeout), (nameof(PassthroughOptions.ProbeTimeout), options.ProbeTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                result.AddError($"PassthroughOptions.{option} is {value}: give a positive duration", option);
            }
        }

        return result.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> for options that fail validation, for a manager made without dependency injection.</summary>
    public static void ThrowIfInvalid(PassthroughOptions options)
    {
        var result = new PassthroughOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new ArgumentException(result.FailureMessage, nameof(options));
        }
    }
}
