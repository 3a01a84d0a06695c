using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Qmp.Wire;

/// <summary>
/// Renders QMP traffic for the Trace transcript with secrets masked: values of members whose names
/// say they are secret (password, secret, passphrase, key material), the <c>data</c> of
/// <c>secret</c> objects, and HMP command lines that set passwords.
/// </summary>
internal static class QmpTranscript
{
    private const string Mask = "\"***\"";
    private const int MaxLength = 4096;

    public static string Render(ReadOnlySpan<byte> json)
    {
        var text = Encoding.UTF8.GetString(json).TrimEnd('\r', '\n');
        if (!LooksSensitive(text))
        {
            return Truncate(text);
        }

        try
        {
            var node = JsonNode.Parse(text);
            Redact(node);
            return Truncate(node?.ToJsonString() ?? text);
        }
        catch (JsonException)
        {
            return "(unparseable message with possible secrets, not shown)";
        }
    }

    private static bool LooksSensitive(string text) =>
        text.Contains("pass", StringComparison.OrdinalIgnoreCase)
        || text.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || text.Contains("key", StringComparison.OrdinalIgnoreCase);

    private static bool IsSensitiveName(string name) =>
        name.Contains("password", StringComparison.OrdinalIgnoreCase)
        || name.Contains("passphrase", StringComparison.OrdinalIgnoreCase)
        || name.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || name.Equals("key", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("-key", StringComparison.OrdinalIgnoreCase);

    private static void Redact(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var isSecretObject = obj["qom-type"] is JsonValue type && type.TryGetValue<string>(out var t) && t == "secret";
                foreach (var (name, value) in obj.ToList())
                {
                    if (IsSensitiveName(name) || (isSecretObject && name == "data")
                        || (name == "command-line" && value is JsonValue v && v.TryGetValue<string>(out var line) && line.Contains("pass", StringComparison.OrdinalIgnoreCase)))
                    {
                        obj[name] = JsonNode.Parse(Mask);
                    }
                    else
                    {
                        Redact(value);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Redact(item);
                }

                break;
        }
    }

    private static string Truncate(string text) => text.Length <= MaxLength ? text : text[..MaxLength] + $"... ({text.Length} chars)";
}
