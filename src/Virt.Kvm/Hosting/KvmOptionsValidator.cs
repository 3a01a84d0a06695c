using Microsoft.Extensions.Options;

namespace Virt.Kvm.Hosting;

/// <summary>
/// Checks <see cref="KvmOptions"/> once, where the options are built (at host start with <c>ValidateOnStart</c>,
/// or when the manager is made), naming the option and the fix.
/// </summary>
internal sealed class KvmOptionsValidator : IValidateOptions<KvmOptions>
{
    /// <summary>The smallest serial-log cap that still holds a boot's worth of console output.</summary>
    public const long MinimumSerialLogBytes = 64 * 1024;

    public ValidateOptionsResult Validate(string? name, KvmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new ValidateOptionsResultBuilder();
        if (!IsAbsolute(options.StateDirectory))
        {
            result.AddError($"KvmOptions.StateDirectory '{options.StateDirectory}' must be an absolute path, e.g. /var/lib/virt/vms", nameof(KvmOptions.StateDirectory));
        }

        if (string.IsNullOrWhiteSpace(options.QemuBinary))
        {
            result.AddError("KvmOptions.QemuBinary is empty: give the QEMU binary, e.g. /usr/bin/qemu-system-x86_64", nameof(KvmOptions.QemuBinary));
        }

        if (options.SerialLogMaxBytes is > 0 and < MinimumSerialLogBytes or < 0)
        {
            result.AddError($"KvmOptions.SerialLogMaxBytes is {options.SerialLogMaxBytes}: use at least 65536 (64 KiB), or 0 for no cap", nameof(KvmOptions.SerialLogMaxBytes));
        }

        foreach (var (option, value) in new[] { (nameof(KvmOptions.LockTimeout), options.LockTimeout), (nameof(KvmOptions.UnplugTimeout), options.UnplugTimeout), (nameof(KvmOptions.SnapshotTimeout), options.SnapshotTimeout), (nameof(KvmOptions.StartTimeout), options.StartTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                result.AddError($"KvmOptions.{option} is {value}: give a positive duration", option);
            }
        }

        return result.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> for options that fail validation, for a manager made without dependency injection.</summary>
    public static void ThrowIfInvalid(KvmOptions options)
    {
        var result = new KvmOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new ArgumentException(result.FailureMessage, nameof(options));
        }
    }

    private static bool IsAbsolute(string? path) => !string.IsNullOrEmpty(path) && path.StartsWith('/') && !path.Any(char.IsControl);
}
