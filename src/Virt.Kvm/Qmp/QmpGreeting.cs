namespace Virt.Kvm.Qmp;

/// <summary>QEMU's version as announced in the QMP greeting.</summary>
/// <param name="Major">Major version.</param>
/// <param name="Minor">Minor version.</param>
/// <param name="Micro">Micro version.</param>
/// <param name="Package">The distribution's package string, e.g. "Debian 1:7.2+dfsg-7+deb12u18".</param>
public sealed record QmpVersion(int Major, int Minor, int Micro, string Package)
{
    /// <summary>The version as a <see cref="System.Version"/>, for comparisons.</summary>
    public Version AsVersion() => new(Major, Minor, Micro);

    /// <inheritdoc />
    public override string ToString() => $"{Major}.{Minor}.{Micro}";
}

/// <summary>What QEMU said when the connection opened.</summary>
/// <param name="Version">QEMU's version.</param>
/// <param name="Capabilities">Capabilities offered, e.g. "oob".</param>
public sealed record QmpGreeting(QmpVersion Version, IReadOnlyList<string> Capabilities);
