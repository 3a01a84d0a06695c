using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Virt.Lxc.Interop;

/// <summary>
/// The two plain functions of <c>liblxc.so.1</c> that are safe to call in-process (no fork, no struct
/// layouts): the installed version, and whether a config key is supported. Where liblxc is missing the
/// check is skipped; lxc-start would refuse an unknown key anyway, only less clearly.
/// </summary>
internal static partial class LibLxc
{
    private const string Library = "liblxc.so.1";
    private static readonly ConcurrentDictionary<string, bool> Supported = new(StringComparer.Ordinal);

    [LibraryImport(Library, EntryPoint = "lxc_config_item_is_supported", StringMarshalling = StringMarshalling.Utf8)]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool ConfigItemIsSupported(string key);

    [LibraryImport(Library, EntryPoint = "lxc_get_version")]
    private static partial IntPtr GetVersion();

    private static string FamilyOf(string key)
    {
        foreach (var family in new[] { "lxc.net.", "lxc.cgroup2.", "lxc.cgroup.", "lxc.sysctl.", "lxc.prlimit." })
        {
            if (key.StartsWith(family, StringComparison.Ordinal))
            {
                return family[..^1];
            }
        }

        return key;
    }

    /// <summary>The installed LXC version, or null without liblxc.</summary>
    public static string? Version()
    {
        try
        {
            return Marshal.PtrToStringUTF8(GetVersion());
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the installed LXC knows the key; true when liblxc cannot be loaded (nothing to ask). liblxc
    /// answers for a family's root only (<c>lxc.net</c>, <c>lxc.cgroup2</c>...), so indexed and controller keys
    /// are asked about by their family.
    /// </summary>
    public static bool IsSupported(string key) => Supported.GetOrAdd(FamilyOf(key), static item =>
    {
        try
        {
            return ConfigItemIsSupported(item);
        }
        catch (DllNotFoundException)
        {
            return true;
        }
    });
}
