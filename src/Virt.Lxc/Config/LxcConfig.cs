using System.Text;
using System.Text.RegularExpressions;

namespace Virt.Lxc.Config;

/// <summary>
/// An LXC container configuration owned by the SDK: ordered <c>key = value</c> entries, each checked
/// before it is accepted. LXC's parser has no escaping at all — one logical line per entry, values
/// trimmed, one pair of matching quotes stripped — and liblxc itself writes a value containing a newline
/// as a second entry (LXC-NOTES), so a value with a line break, NUL, surrounding whitespace or wrapping
/// quotes is refused, as is any key outside the families the SDK manages (no hooks, no includes).
/// </summary>
internal sealed partial class LxcConfig
{
    private static readonly string[] AllowedFamilies =
    [
        "lxc.uts.name", "lxc.arch", "lxc.rootfs.path", "lxc.rootfs.options", "lxc.rootfs.mount",
        "lxc.init.cmd", "lxc.init.cwd", "lxc.init.uid", "lxc.init.gid", "lxc.environment", "lxc.execute.cmd",
        "lxc.net.", "lxc.cgroup.", "lxc.cgroup2.", "lxc.mount.entry", "lxc.mount.auto", "lxc.idmap",
        "lxc.cap.drop", "lxc.cap.keep", "lxc.apparmor.profile", "lxc.apparmor.allow_nesting", "lxc.seccomp.profile",
        "lxc.no_new_privs", "lxc.start.auto", "lxc.start.delay", "lxc.start.order", "lxc.tty.max", "lxc.pty.max",
        "lxc.console.path", "lxc.console.logfile", "lxc.console.size", "lxc.log.level", "lxc.log.file",
        "lxc.signal.halt", "lxc.signal.stop", "lxc.signal.reboot", "lxc.autodev", "lxc.sysctl.", "lxc.prlimit.",
    ];

    private readonly List<KeyValuePair<string, string>> _entries = [];

    /// <summary>The entries, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Entries => _entries;

    /// <summary>Adds an entry after checking the key and the value.</summary>
    /// <param name="key">An <c>lxc.*</c> key of a family the SDK manages, e.g. "lxc.net.0.link".</param>
    /// <param name="value">The value: one line, no surrounding whitespace or quotes.</param>
    /// <returns>This configuration.</returns>
    /// <exception cref="LxcConfigException">The key or the value is refused; nothing was added.</exception>
    public LxcConfig Add(string key, string value)
    {
        ValidateKey(key);
        ValidateValue(key, value);
        _entries.Add(new(key, value));
        return this;
    }

    /// <summary>The values of a key, in order (a key such as lxc.mount.entry may repeat).</summary>
    /// <param name="key">The key.</param>
    /// <returns>Its values.</returns>
    public IReadOnlyList<string> Get(string key) => _entries.Where(e => e.Key == key).Select(e => e.Value).ToList();

    /// <summary>The file's text: a header comment, then one <c>key = value</c> line per entry.</summary>
    /// <returns>The text.</returns>
    public string Serialize()
    {
        var text = new StringBuilder("# Written by the Virt SDK; edits are overwritten.\n");
        foreach (var (key, value) in _entries)
        {
            text.Append(key).Append(" = ").Append(value).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>Reads a configuration the SDK wrote, checking every entry as <see cref="Add"/> does.</summary>
    /// <param name="text">The file's text.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="LxcConfigException">A line is not a valid entry.</exception>
    public static LxcConfig Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var config = new LxcConfig();
        var number = 0;
        foreach (var line in text.Split('\n'))
        {
            number++;
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var separator = line.IndexOf(" = ", StringComparison.Ordinal);
            if (separator <= 0)
            {
                throw new LxcConfigException(line, $"line {number} is not 'key = value': '{Show(line)}'");
            }

            config.Add(line[..separator], line[(separator + 3)..]);
        }

        return config;
    }

    private static void ValidateKey(string key)
    {
        if (key is null || !KeyPattern().IsMatch(key))
        {
            throw new LxcConfigException(key ?? "(null)", $"'{Show(key)}' is not an LXC key: use lxc. followed by a-z 0-9 . _");
        }

        if (!AllowedFamilies.Any(family => family.EndsWith('.') ? key.StartsWith(family, StringComparison.Ordinal) && key.Length > family.Length : key == family))
        {
            throw new LxcConfigException(key, $"'{key}' is not a key the SDK manages (hooks, includes and unknown keys are refused): use the typed container spec");
        }
    }

    private static void ValidateValue(string key, string value)
    {
        if (value is null)
        {
            throw new LxcConfigException(key, $"{key} needs a value");
        }

        if (value.AsSpan().IndexOfAny('\n', '\r', '\0') >= 0)
        {
            throw new LxcConfigException(key, $"the value of {key} contains a line break or NUL ('{Show(value)}'): LXC would read the rest as another entry");
        }

        if (value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])))
        {
            throw new LxcConfigException(key, $"the value of {key} has leading or trailing whitespace ('{Show(value)}'), which LXC trims: remove it");
        }

        if (value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0])
        {
            throw new LxcConfigException(key, $"the value of {key} is wrapped in quotes ('{Show(value)}'), which LXC strips: remove them");
        }
    }

    private static string Show(string? value) => value is null ? "(null)" : value.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);

    [GeneratedRegex("^lxc(\\.[a-z0-9_]+)+\\z")]
    private static partial Regex KeyPattern();
}
