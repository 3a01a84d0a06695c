namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Values inside QEMU's <c>key=value,key=value</c> option syntax. A comma inside a value must be
/// written as two commas, or QEMU would read what follows as a new key — an injection. Control
/// characters are refused outright.
/// </summary>
internal static class QemuOptionValue
{
    /// <summary>Escapes a value for a QEMU option list (doubles every comma).</summary>
    /// <param name="value">The raw value, e.g. a file path.</param>
    /// <param name="what">What the value is, for the error message (e.g. "disk 'vda' path").</param>
    /// <returns>The escaped value.</returns>
    /// <exception cref="ArgumentException">The value contains a control character (newline, NUL...).</exception>
    public static string Escape(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException($"{what} '{value.Replace("\n", "\\n", StringComparison.Ordinal)}' contains a control character, which QEMU's command line cannot carry: rename the file", nameof(value));
        }

        return value.Replace(",", ",,", StringComparison.Ordinal);
    }
}
