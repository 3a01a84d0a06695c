using System.Text.Json;

namespace Virt.Kvm.Qmp.Api;

/// <summary>
/// Reading and writing of generated flat unions. The discriminator is found by scanning a copy of the
/// reader — the value is fully buffered when a converter runs — so nothing is parsed twice into a
/// document, and the discriminator may stand anywhere in the object (QEMU does not put it first).
/// </summary>
internal static class QmpUnion
{
    /// <summary>The string value of the top-level member <paramref name="tag"/> of the object at the reader, or null.</summary>
    public static string? FindTag(Utf8JsonReader reader, ReadOnlySpan<byte> tag)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"a QMP union is a JSON object, not {reader.TokenType}");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isTag = reader.ValueTextEquals(tag);
            reader.Read();
            if (isTag)
            {
                return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }

            reader.Skip();
        }

        return null;
    }

    /// <summary>Writes a union value as its own class (whose contract includes the discriminator).</summary>
    public static void Write<T>(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(value);
        JsonSerializer.Serialize(writer, value, options.GetTypeInfo(value.GetType()));
    }
}
