using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Wire;

namespace Virt.Kvm.Tests.Qmp;

public sealed class QmpWireTests
{
    [Fact]
    public void A_return_keeps_its_payload_range_and_numeric_id()
    {
        var line = """{"return": {"status": "running", "running": true}, "id": 17}"""u8;

        var message = QmpMessageParser.Parse(line);

        Assert.Equal(QmpMessageKind.Return, message.Kind);
        Assert.Equal(17, message.Id);
        Assert.Equal("""{"status": "running", "running": true}""", Encoding.UTF8.GetString(line.Slice(message.PayloadStart, message.PayloadLength)));
    }

    [Theory]
    [InlineData("""{"return": [], "id": "abc"}""", true)]
    [InlineData("""{"return": 5}""", false)]
    public void Ids_that_are_missing_or_not_numbers_are_reported_as_such(string line, bool hasId)
    {
        var message = QmpMessageParser.Parse(Encoding.UTF8.GetBytes(line));

        Assert.Null(message.Id);
        Assert.Equal(hasId, message.HasId);
    }

    [Fact]
    public void An_error_keeps_class_and_description()
    {
        var message = QmpMessageParser.Parse("""{"id": 3, "error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}}"""u8);

        Assert.Equal(QmpMessageKind.Error, message.Kind);
        Assert.Equal(3, message.Id);
        Assert.Equal("DeviceNotFound", message.ErrorClass);
        Assert.Equal("Device 'x' not found", message.ErrorDescription);
    }

    [Fact]
    public void An_event_keeps_name_timestamp_and_data()
    {
        var line = """{"timestamp": {"seconds": 1795760307, "microseconds": 938776}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"""u8;

        var message = QmpMessageParser.Parse(line);

        Assert.Equal(QmpMessageKind.Event, message.Kind);
        Assert.Equal("SHUTDOWN", message.EventName);
        Assert.Equal(1795760307, message.TimestampSeconds);
        Assert.Equal(938776, message.TimestampMicroseconds);
        Assert.Equal("""{"guest": true, "reason": "guest-shutdown"}""", Encoding.UTF8.GetString(line.Slice(message.PayloadStart, message.PayloadLength)));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    [InlineData("""{"return": {}} {"return": {}}""")]
    [InlineData("""{"return": {""")]
    public void Anything_but_one_JSON_object_is_rejected(string line)
    {
        Assert.ThrowsAny<JsonException>(() => QmpMessageParser.Parse(Encoding.UTF8.GetBytes(line)));
    }

    [Fact]
    public void Commands_are_written_as_one_line_with_arguments_and_id()
    {
        var writer = new QmpCommandWriter();

        var command = Encoding.UTF8.GetString(writer.Format("device_del", 9, false, new JsonObject { ["id"] = "net0" }, QmpTestJson.Default.JsonObject).Span);
        var oob = Encoding.UTF8.GetString(writer.Format("yank", 10, true, (JsonObject?)null, QmpTestJson.Default.JsonObject).Span);

        Assert.Equal("{\"execute\":\"device_del\",\"arguments\":{\"id\":\"net0\"},\"id\":9}\n", command);
        Assert.Equal("{\"exec-oob\":\"yank\",\"id\":10}\n", oob);
    }

    [Fact]
    public void Command_text_is_escaped_as_JSON()
    {
        var writer = new QmpCommandWriter();

        var bytes = writer.Format("human-monitor-command", 1, false, new JsonObject { ["command-line"] = "info \"x\"\n{\"execute\":\"quit\"}" }, QmpTestJson.Default.JsonObject);

        var text = Encoding.UTF8.GetString(bytes.Span);
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("info \"x\"\n{\"execute\":\"quit\"}", JsonNode.Parse(text)!["arguments"]!["command-line"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"execute":"set_password","arguments":{"protocol":"vnc","password":"hunter2"},"id":1}""")]
    [InlineData("""{"execute":"object-add","arguments":{"qom-type":"secret","id":"s0","data":"hunter2"},"id":2}""")]
    [InlineData("""{"execute":"human-monitor-command","arguments":{"command-line":"change vnc password hunter2"},"id":3}""")]
    [InlineData("""{"execute":"blockdev-add","arguments":{"driver":"luks","key-secret":"hunter2","node-name":"n"},"id":4}""")]
    public void The_transcript_masks_secrets(string command)
    {
        var rendered = QmpTranscript.Render(Encoding.UTF8.GetBytes(command));

        Assert.DoesNotContain("hunter2", rendered, StringComparison.Ordinal);
        Assert.Contains("***", rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void The_transcript_keeps_ordinary_traffic_verbatim()
    {
        const string Command = """{"execute":"query-status","id":1}""";

        Assert.Equal(Command, QmpTranscript.Render(Encoding.UTF8.GetBytes(Command + "\r\n")));
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class QmpTestJson : System.Text.Json.Serialization.JsonSerializerContext;
