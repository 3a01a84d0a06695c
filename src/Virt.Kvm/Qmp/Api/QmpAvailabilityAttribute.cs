namespace Virt.Kvm.Qmp.Api;

/// <summary>
/// Marks a generated command, event, type or member that only some of the QEMU versions the API was
/// generated from have. Ones a newer QEMU removed are also <see cref="ObsoleteAttribute"/>. At run
/// time the client checks the connected QEMU's own schema
/// (<see cref="QmpClientOptions.CheckCommandsAgainstSchema"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Property | AttributeTargets.Method, Inherited = false)]
public sealed class QmpAvailabilityAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="versions">The QEMU versions that have it, e.g. "10.0.2".</param>
    public QmpAvailabilityAttribute(params string[] versions)
    {
        Versions = versions;
    }

    /// <summary>The QEMU versions that have it.</summary>
    public IReadOnlyList<string> Versions { get; }
}
