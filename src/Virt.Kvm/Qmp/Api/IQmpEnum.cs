namespace Virt.Kvm.Qmp.Api;

/// <summary>
/// A generated QMP enumeration: a string with the known values as static members. A value the
/// generated API does not know (a newer QEMU's) still reads and writes as itself.
/// </summary>
/// <typeparam name="TSelf">The enumeration.</typeparam>
public interface IQmpEnum<TSelf>
    where TSelf : struct, IQmpEnum<TSelf>
{
    /// <summary>The wire value, e.g. "running".</summary>
    string Value { get; }

    /// <summary>Wraps a wire value.</summary>
    /// <param name="value">The wire value.</param>
    /// <returns>The enumeration value.</returns>
    static abstract TSelf FromWire(string value);
}
