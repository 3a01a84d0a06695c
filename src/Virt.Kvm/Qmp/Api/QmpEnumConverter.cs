using System.Text.Json;
using System.Text.Json.Serialization;

namespace Virt.Kvm.Qmp.Api;

/// <summary>Reads and writes a generated enumeration as its JSON string.</summary>
/// <typeparam name="T">The enumeration.</typeparam>
public sealed class QmpEnumConverter<T> : JsonConverter<T>
    where T : struct, IQmpEnum<T>
{
    /// <inheritdoc/>
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String
            ? T.FromWire(reader.GetString()!)
            : throw new JsonException($"{typeof(T).Name} is a JSON string, not {reader.TokenType}");

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.Value ?? throw new JsonException($"a default {typeof(T).Name} has no value to write; use one of its static members"));
    }
}
