using System.Text.Json;

namespace Virt.Kvm.Qmp.Wire;

/// <summary>
/// Classifies one QMP line with a forward-only <see cref="Utf8JsonReader"/> and no allocation on the
/// reply path: only error texts and event names become strings.
/// </summary>
internal static class QmpMessageParser
{
    /// <summary>Parses a line (without its newline).</summary>
    /// <exception cref="JsonException">The line is not one complete JSON object.</exception>
    public static QmpMessage Parse(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("a QMP message must be a JSON object");
        }

        var message = new QmpMessage();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("return"u8))
            {
                reader.Read();
                message = message with { Kind = QmpMessageKind.Return };
                message = WithPayload(ref reader, message);
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                long? id = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) ? number : null;
                reader.Skip();
                message = message with { HasId = true, Id = id };
            }
            else if (reader.ValueTextEquals("event"u8))
            {
                reader.Read();
                message = message with { Kind = QmpMessageKind.Event, EventName = reader.GetString() };
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                message = WithPayload(ref reader, message);
            }
            else if (reader.ValueTextEquals("timestamp"u8))
            {
                message = ReadTimestamp(ref reader, message);
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                message = ReadError(ref reader, message);
            }
            else if (reader.ValueTextEquals("QMP"u8))
            {
                reader.Read();
                message = message with { Kind = QmpMessageKind.Greeting };
                message = WithPayload(ref reader, message);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            throw new JsonException("trailing data after the QMP message");
        }

        return message;
    }

    private static QmpMessage WithPayload(ref Utf8JsonReader reader, QmpMessage message)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return message with { PayloadStart = start, PayloadLength = (int)reader.BytesConsumed - start };
    }

    private static QmpMessage ReadTimestamp(ref Utf8JsonReader reader, QmpMessage message)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return message;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isSeconds = reader.ValueTextEquals("seconds"u8);
            var isMicroseconds = reader.ValueTextEquals("microseconds"u8);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value))
            {
                if (isSeconds)
                {
                    message = message with { TimestampSeconds = value };
                }
                else if (isMicroseconds)
                {
                    message = message with { TimestampMicroseconds = value };
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return message;
    }

    private static QmpMessage ReadError(ref Utf8JsonReader reader, QmpMessage message)
    {
        reader.Read();
        message = message with { Kind = QmpMessageKind.Error, ErrorClass = "GenericError", ErrorDescription = string.Empty };
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return message;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("class"u8))
            {
                reader.Read();
                message = message with { ErrorClass = reader.TokenType == JsonTokenType.String ? reader.GetString() : "GenericError" };
            }
            else if (reader.ValueTextEquals("desc"u8))
            {
                reader.Read();
                message = message with { ErrorDescription = reader.TokenType == JsonTokenType.String ? reader.GetString() : string.Empty };
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return message;
    }
}
