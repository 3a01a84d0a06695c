namespace Virt;

/// <summary>Classifies any exception an SDK call can throw into a <see cref="VirtErrorKind"/>.</summary>
public static class VirtErrors
{
    /// <summary>
    /// The category of an error from an SDK call: a <see cref="VirtException"/>'s own
    /// <see cref="VirtException.ErrorKind"/>; <see cref="VirtErrorKind.Timeout"/> for a <see cref="TimeoutException"/>;
    /// <see cref="VirtErrorKind.InvalidInput"/> for the <see cref="ArgumentException"/> or <see cref="FormatException"/>
    /// an SDK call throws on a bad argument; <see langword="null"/> for anything else (a bug or an unexpected error,
    /// which a host should log rather than show).
    /// </summary>
    /// <param name="exception">The error caught.</param>
    /// <returns>Its category, or <see langword="null"/> when it is not one the SDK describes.</returns>
    public static VirtErrorKind? KindOf(Exception? exception) => exception switch
    {
        VirtException virt => virt.ErrorKind,
        TimeoutException => VirtErrorKind.Timeout,
        ArgumentException or FormatException => VirtErrorKind.InvalidInput,
        _ => null,
    };
}
