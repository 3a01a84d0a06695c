using System.Text.Json;

namespace Virt.Kvm.Qmp.Api;

/// <summary>
/// A generated QMP object. Members of a reply that the generated type does not know — from a QEMU
/// newer than the schemas the API was generated from — are kept in <see cref="ExtensionData"/>, so
/// nothing QEMU said is lost and it is written back unchanged.
/// </summary>
public interface IQmpObject
{
    /// <summary>Members the type does not model, by wire name; null when there were none.</summary>
    Dictionary<string, JsonElement>? ExtensionData { get; set; }
}
