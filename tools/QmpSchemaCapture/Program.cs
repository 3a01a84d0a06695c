// Usage: dotnet run --project tools/QmpSchemaCapture -- QEMU_BINARY OUTPUT_DIR [DATA_DIR]
// Starts QEMU with -machine none -S, asks it for query-version and query-qmp-schema through the
// SDK's own QMP client, and writes OUTPUT_DIR/qemu-MAJOR.MINOR.MICRO.json (indented, stable order).
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: QmpSchemaCapture QEMU_BINARY OUTPUT_DIR [DATA_DIR]");
    return 2;
}

var (binary, output, data) = (args[0], args[1], args.Length > 2 ? args[2] : null);
var work = Directory.CreateTempSubdirectory("virt-schema-").FullName;
var socket = Path.Combine(work, "qmp.sock");
var start = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
foreach (var argument in (string[])[.. data is null ? [] : new[] { "-L", data }, "-nodefaults", "-no-user-config", "-display", "none", "-machine", "none", "-S", "-qmp", $"unix:{socket},server=on,wait=off"])
{
    start.ArgumentList.Add(argument);
}

using var qemu = Process.Start(start)!;
try
{
    while (!File.Exists(socket))
    {
        if (qemu.HasExited)
        {
            Console.Error.WriteLine($"{binary} exited: {await qemu.StandardError.ReadToEndAsync()}");
            return 1;
        }

        await Task.Delay(10);
    }

    await using var client = await QmpClient.ConnectAsync(socket);
    var version = await client.QueryVersionAsync();
    var schema = await client.ExecuteAsync("query-qmp-schema");
    var document = new JsonObject
    {
        ["qemu"] = $"{version.Qemu.Major}.{version.Qemu.Minor}.{version.Qemu.Micro}",
        ["package"] = version.Package,
        ["schema"] = JsonNode.Parse(schema.GetRawText()),
    };
    Directory.CreateDirectory(output);
    var path = Path.Combine(output, $"qemu-{version.Qemu.Major}.{version.Qemu.Minor}.{version.Qemu.Micro}.json");
    await File.WriteAllTextAsync(path, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    Console.WriteLine($"{path}: {schema.GetArrayLength()} entries");
    await client.QuitAsync();
    return 0;
}
finally
{
    if (!qemu.HasExited)
    {
        qemu.Kill();
    }

    Directory.Delete(work, recursive: true);
}
