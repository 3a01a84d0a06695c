using System.Globalization;
using System.Text;

namespace Virt.StateFileWriter;

/// <summary>
/// One version of the test's state file: a header with its number, a body big enough that writing it is not
/// instantaneous, and a trailer with the number again, so that a torn file (a prefix, or parts of two versions) is detected.
/// </summary>
public static class StateVersion
{
    private const int BodyLength = 512 * 1024;

    public static byte[] Content(int version)
    {
        var filler = (char)('a' + (version % 26));
        return Encoding.ASCII.GetBytes($"version {version}\n{new string(filler, BodyLength)}\nend {version}\n");
    }

    /// <summary>The version a file holds, or null where it is not exactly one complete version.</summary>
    public static int? Parse(byte[] content)
    {
        var text = Encoding.ASCII.GetString(content);
        var lines = text.Split('\n');
        if (lines.Length != 4 || lines[3].Length != 0 || !lines[0].StartsWith("version ", StringComparison.Ordinal)
            || !int.TryParse(lines[0]["version ".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return null;
        }

        return lines[2] == $"end {version}" && content.AsSpan().SequenceEqual(Content(version)) ? version : null;
    }
}
