using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Virt.Passthrough;

/// <summary>
/// A PCI function's address as sysfs and lspci write it: <c>DDDD:BB:SS.F</c> (domain, bus, slot 0–1f,
/// function 0–7), hexadecimal. Parsing is strict — exactly that shape — so an address can be used as a
/// sysfs path component safely; it is always written back in lower case.
/// </summary>
/// <param name="Domain">The PCI domain (segment), 0–ffff.</param>
/// <param name="Bus">The bus, 0–ff.</param>
/// <param name="Slot">The device (slot), 0–1f.</param>
/// <param name="Function">The function, 0–7.</param>
public readonly record struct PciAddress(int Domain, int Bus, int Slot, int Function)
{
    /// <summary>Reads <c>DDDD:BB:SS.F</c>.</summary>
    /// <param name="text">The address.</param>
    /// <returns>The address.</returns>
    /// <exception cref="FormatException">It is not a full PCI address.</exception>
    public static PciAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not a PCI address: write DDDD:BB:SS.F in hexadecimal (e.g. 0000:01:00.0), as lspci -D shows it");

    /// <summary>Reads <c>DDDD:BB:SS.F</c> without throwing.</summary>
    /// <param name="text">The address.</param>
    /// <param name="address">The address, when valid.</param>
    /// <returns>Whether it was valid.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, out PciAddress address)
    {
        address = default;
        if (text is null || text.Length != 12 || text[4] != ':' || text[7] != ':' || text[10] != '.')
        {
            return false;
        }

        if (!Hex(text.AsSpan(0, 4), out var domain) || !Hex(text.AsSpan(5, 2), out var bus) || !Hex(text.AsSpan(8, 2), out var slot) || !Hex(text.AsSpan(11, 1), out var function) || slot > 0x1f || function > 7)
        {
            return false;
        }

        address = new PciAddress(domain, bus, slot, function);
        return true;
    }

    /// <summary>The address of another function of the same slot.</summary>
    /// <param name="function">The function, 0–7.</param>
    /// <returns>The address.</returns>
    public PciAddress WithFunction(int function) => this with { Function = function };

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Domain:x4}:{Bus:x2}:{Slot:x2}.{Function:x1}");

    private static bool Hex(ReadOnlySpan<char> digits, out int value) =>
        int.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && digits.IndexOfAnyExcept("0123456789abcdefABCDEF") < 0;
}
