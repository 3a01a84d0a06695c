using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Kvm.Qmp;

/// <summary>An asynchronous event from QEMU (SHUTDOWN, STOP, DEVICE_DELETED, BLOCK_JOB_COMPLETED...).</summary>
/// <param name="Name">The event name, e.g. "SHUTDOWN".</param>
/// <param name="Timestamp">When QEMU emitted it (QEMU's clock).</param>
/// <param name="Data">The event's <c>data</c> member, or <see langword="null"/> when it has none.</param>
public sealed record QmpEvent(string Name, DateTimeOffset Timestamp, JsonElement? Data)
{
    /// <summary>Deserializes <see cref="Data"/> into a typed record.</summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="typeInfo">Its source-generated JSON metadata.</param>
    /// <returns>The data, or <see langword="default"/> when the event has none.</returns>
    public T? GetData<T>(JsonTypeInfo<T> typeInfo) => Data is { } data ? data.Deserialize(typeInfo) : default;

    /// <summary>Reads a string member of <see cref="Data"/>, e.g. <c>device</c> of DEVICE_DELETED.</summary>
    /// <param name="member">The member name.</param>
    /// <returns>Its value, or <see langword="null"/> when absent or not a string.</returns>
    public string? GetString(string member) =>
        Data is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty(member, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
