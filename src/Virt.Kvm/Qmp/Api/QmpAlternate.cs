using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Kvm.Qmp.Api;

/// <summary>Reads and writes the branches of generated alternates through the context's metadata (AOT-safe).</summary>
internal static class QmpAlternate
{
    public static T Read<T>(ref Utf8JsonReader reader, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize(ref reader, (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)))!;

    public static void Write<T>(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)));
}
