using Microsoft.Extensions.Options;

namespace Virt.Storage.Hosting;

/// <summary>
/// Checks <see cref="StorageOptions"/> once, where the options are built (at host start with <c>ValidateOnStart</c>,
/// or when the manager is made), naming the option and the fix.
/// </summary>
internal sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        if (string.IsNullOrEmpty(options.StateDirectory) || !options.StateDirectory.StartsWith('/') || options.StateDirectory.Any(char.IsControl))
        {
            result.AddError($"StorageOptions.StateDirectory '{options.StateDirectory}' must be an absolute path, e.g. /var/lib/virt/storage", nameof(StorageOptions.StateDirectory));
        }

        if (options.LockTimeout <= TimeSpan.Zero)
        {
            result.AddError($"StorageOptions.LockTimeout is {options.LockTimeout}: give a positive duration", nameof(StorageOptions.LockTimeout));
        }

        if (options.FenceDuration < TimeSpan.FromMinutes(1) || options.FenceDuration.TotalSeconds > uint.MaxValue)
        {
            result.AddError($"StorageOptions.FenceDuration is {options.FenceDuration}: give at least one minute (a fenced client must not come back soon), e.g. 7 days", nameof(StorageOptions.FenceDuration));
        }

        foreach (var (option, value) in new[] { (nameof(StorageOptions.QemuImgPath), options.QemuImgPath), (nameof(StorageOptions.RbdPath), options.RbdPath), (nameof(StorageOptions.CephPath), options.CephPath), (nameof(StorageOptions.BtrfsPath), options.BtrfsPath) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                result.AddError($"StorageOptions.{option} is empty: give the program's name on PATH or its absolute path", option);
            }
        }

        return result.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> for options that fail validation, for a manager made without dependency injection.</summary>
    public static void ThrowIfInvalid(StorageOptions options)
    {
        var result = new StorageOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new ArgumentException(result.FailureMessage, nameof(options));
        }
    }
}
