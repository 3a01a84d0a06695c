using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Virt.Ctl.Infrastructure;

/// <summary>Prints results: a table for people, JSON (camelCase, enums as strings) with --json.</summary>
internal static class Output
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(), new ToStringConverter<Virt.Passthrough.PciAddress>(), new ToStringConverter<Virt.Storage.VolumeId>() },

        // Network definitions carry their "kind", as `net define` reads them: `net show NAME --json` can be defined again.
        TypeInfoResolver = Virt.Samples.Networking.NetworkDocumentJson.Resolver,
    };

    public static void Table<T>(GlobalSettings settings, IReadOnlyList<T> rows, params (string Header, Func<T, object?> Value)[] columns)
    {
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows, Json));
            return;
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var (header, _) in columns)
        {
            table.AddColumn(header);
        }

        foreach (var row in rows)
        {
            table.AddRow(columns.Select(column => Markup.Escape(column.Value(row)?.ToString() ?? "-")).ToArray());
        }

        AnsiConsole.Write(table);
    }

    public static void Object<T>(GlobalSettings settings, T value, string text)
    {
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(value, Json));
        }
        else
        {
            AnsiConsole.MarkupLine(Markup.Escape(text));
        }
    }

    public static void Done(GlobalSettings settings, string text)
    {
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { ok = true, message = text }, Json));
        }
        else
        {
            AnsiConsole.MarkupLine("[green]✓[/] " + Markup.Escape(text));
        }
    }

    public static void Error(Exception exception, int exitCode)
    {
        // Plain text on stderr, one line, unwrapped: scripts read it.
        Console.Error.WriteLine($"error ({exitCode}, {exception.GetType().Name}): {exception.Message}");
    }

    private sealed class ToStringConverter<T> : JsonConverter<T>
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(value?.ToString());
    }
}
