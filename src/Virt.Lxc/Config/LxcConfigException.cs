namespace Virt.Lxc.Config;

/// <summary>A container configuration entry was refused before anything was written.</summary>
public sealed class LxcConfigException : VirtException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="key">The configuration key.</param>
    /// <param name="message">What is wrong and the fix.</param>
    public LxcConfigException(string key, string message)
        : base(VirtErrorKind.InvalidInput, message)
    {
        Key = key;
    }

    /// <summary>The configuration key.</summary>
    public string Key { get; }
}
