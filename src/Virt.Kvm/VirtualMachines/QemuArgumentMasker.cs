using System.Text;
using System.Text.RegularExpressions;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// QEMU's argv as it may be logged (at Debug only): values that can carry secrets are replaced by
/// <c>***</c>. Masked: the value of every kernel parameter in <c>-append</c> except a list of known
/// harmless ones (console, root, panic, loglevel...; bare flags such as <c>quiet</c> stay), the
/// content of <c>-fw_cfg string=</c>, SMBIOS <c>value=</c> (systemd credentials travel there), and in
/// any option list every key that names a secret (password, secret, token, key, credential, data of
/// <c>-object secret</c>).
/// </summary>
internal static partial class QemuArgumentMasker
{
    public const string Mask = "***";

    private static readonly HashSet<string> HarmlessKernelParameters = new(StringComparer.Ordinal)
    {
        "console", "earlycon", "earlyprintk", "root", "rootfstype", "rootflags", "rootwait", "init", "panic", "loglevel",
        "nokaslr", "intel_iommu", "amd_iommu", "iommu", "mitigations", "net.ifnames", "biosdevname", "systemd.unit",
        "selinux", "apparmor", "audit", "crashkernel", "hugepages", "hugepagesz", "default_hugepagesz", "isolcpus",
        "nohz_full", "rcu_nocbs", "transparent_hugepage", "acpi", "pci", "swiotlb", "tsc", "clocksource", "nomodeset",
        "vga", "fbcon", "modprobe.blacklist", "module_blacklist", "rd.break", "noapic", "nosmp", "maxcpus", "mem",
    };

    /// <summary>The argv as one line, secrets masked.</summary>
    public static string Describe(IReadOnlyList<string> arguments)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < arguments.Count; i++)
        {
            var previous = i > 0 ? arguments[i - 1] : null;
            var shown = previous switch
            {
                "-append" => MaskKernelCommandLine(arguments[i]),
                "-fw_cfg" => MaskOptionList(arguments[i], key => key == "string"),
                "-smbios" => MaskOptionList(arguments[i], key => key == "value"),
                "-object" when arguments[i].StartsWith("secret", StringComparison.Ordinal) => MaskOptionList(arguments[i], key => key is "data" or "iv"),
                _ when previous is not null && previous.StartsWith('-') => MaskOptionList(arguments[i], _ => false),
                _ => arguments[i],
            };
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(shown);
        }

        return builder.ToString();
    }

    private static string MaskKernelCommandLine(string commandLine) =>
        string.Join(' ', commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(parameter =>
        {
            var equals = parameter.IndexOf('=', StringComparison.Ordinal);
            return equals < 0 || HarmlessKernelParameters.Contains(parameter[..equals])
                ? parameter
                : parameter[..(equals + 1)] + Mask;
        }));

    /// <summary>Masks values in a QEMU option list (<c>a=b,c=d</c>) whose key is chosen or names a secret.</summary>
    private static string MaskOptionList(string value, Func<string, bool> mask)
    {
        if (!value.Contains('=', StringComparison.Ordinal))
        {
            return value;
        }

        // Split on single commas; ",," is a literal comma inside a value and stays with it.
        var items = SplitKeepingEscapedCommas(value);
        for (var i = 0; i < items.Length; i++)
        {
            var equals = items[i].IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && (mask(items[i][..equals]) || SecretKeyPattern().IsMatch(items[i][..equals])))
            {
                items[i] = items[i][..(equals + 1)] + Mask;
            }
        }

        return string.Join(',', items);
    }

    [GeneratedRegex("pass|secret|token|key|cred|auth", RegexOptions.IgnoreCase)]
    private static partial Regex SecretKeyPattern();

    private static string[] SplitKeepingEscapedCommas(string value)
    {
        var items = new List<string>();
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != ',')
            {
                continue;
            }

            if (i + 1 < value.Length && value[i + 1] == ',')
            {
                i++;
                continue;
            }

            items.Add(value[start..i]);
            start = i + 1;
        }

        items.Add(value[start..]);
        return [.. items];
    }
}
