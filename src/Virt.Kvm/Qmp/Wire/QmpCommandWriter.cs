using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Kvm.Qmp.Wire;

/// <summary>
/// Serializes commands into one reusable buffer: <c>{"execute":NAME,"arguments":{...},"id":N}\n</c>.
/// Not thread-safe: the client uses it under its write lock.
/// </summary>
internal sealed class QmpCommandWriter
{
    private static readonly JsonEncodedText Execute = JsonEncodedText.Encode("execute");
    private static readonly JsonEncodedText ExecuteOob = JsonEncodedText.Encode("exec-oob");
    private static readonly JsonEncodedText Arguments = JsonEncodedText.Encode("arguments");
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public QmpCommandWriter()
    {
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>Formats a command; the returned memory is valid until the next call.</summary>
    public ReadOnlyMemory<byte> Format<TArguments>(string command, long id, bool outOfBand, TArguments? arguments, JsonTypeInfo<TArguments>? argumentsType)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString(outOfBand ? ExecuteOob : Execute, command);
        if (arguments is not null && argumentsType is not null)
        {
            _writer.WritePropertyName(Arguments);
            JsonSerializer.Serialize(_writer, arguments, argumentsType);
        }

        _writer.WriteNumber(Id, id);
        _writer.WriteEndObject();
        _writer.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        return _buffer.WrittenMemory;
    }
}
