namespace Virt.Ctl.Infrastructure;

/// <summary>What virtctl's exit status means, so scripts can branch on it (<c>ct exec</c> passes the command's own).</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>The host or the SDK refused or failed the operation (the message says why and the fix).</summary>
    public const int Failed = 1;

    /// <summary>Bad input: an unknown command or option, a malformed address, an invalid spec.</summary>
    public const int BadInput = 2;

    /// <summary>The VM, container, pool, volume or device does not exist.</summary>
    public const int NotFound = 3;

    /// <summary>Refused for safety: a blocked plan, an object in use or already existing, a host that is not ready.</summary>
    public const int Refused = 4;

    /// <summary>A deadline passed.</summary>
    public const int Timeout = 5;

    /// <summary>The exit code of an error: Spectre's parse errors are bad input; the SDK's, one code per <see cref="VirtErrorKind"/>.</summary>
    public static int For(Exception exception) => exception switch
    {
        Spectre.Console.Cli.CommandParseException or Spectre.Console.Cli.CommandRuntimeException => BadInput,
        _ => VirtErrors.KindOf(exception) switch
        {
            VirtErrorKind.NotFound => NotFound,
            VirtErrorKind.InvalidInput => BadInput,
            VirtErrorKind.Conflict or VirtErrorKind.Refused => Refused,
            VirtErrorKind.Timeout => Timeout,
            VirtErrorKind.Failed or VirtErrorKind.Unavailable => Failed,
            _ => Failed,
        },
    };
}
