using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Virt.Storage;

/// <summary>
/// A volume's address, written <c>pool:name</c> as in Proxmox (e.g. <c>local:vm-100-disk-0</c>). Both
/// parts are 1–64 characters of <c>a-z A-Z 0-9 . _ -</c>, starting with a letter or digit, so a name can
/// never be a path (<c>..</c>, <c>/</c>).
/// </summary>
/// <param name="Pool">The pool's name.</param>
/// <param name="Name">The volume's name in the pool.</param>
public readonly partial record struct VolumeId(string Pool, string Name)
{
    /// <summary>Reads <c>pool:name</c>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The id.</returns>
    /// <exception cref="ArgumentException">It is not <c>pool:name</c> with valid parts.</exception>
    public static VolumeId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new ArgumentException($"'{text}' is not a volume id: write pool:name, each 1-64 of a-z A-Z 0-9 . _ - starting with a letter or digit", nameof(text));

    /// <summary>Reads <c>pool:name</c> without throwing.</summary>
    /// <param name="text">The text.</param>
    /// <param name="id">The id, when valid.</param>
    /// <returns>Whether it was valid.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, out VolumeId id)
    {
        id = default;
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (text is null || colon <= 0 || !IsValidName(text[..colon]) || !IsValidName(text[(colon + 1)..]))
        {
            return false;
        }

        id = new VolumeId(text[..colon], text[(colon + 1)..]);
        return true;
    }

    /// <summary>Whether a pool or volume name is valid.</summary>
    /// <param name="name">The name.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidName([NotNullWhen(true)] string? name) => name is not null && NamePattern().IsMatch(name);

    /// <inheritdoc />
    public override string ToString() => $"{Pool}:{Name}";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\z")]
    private static partial Regex NamePattern();
}
