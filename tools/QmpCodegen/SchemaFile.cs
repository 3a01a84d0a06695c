using System.Text.Json;

namespace Virt.Tools.QmpCodegen;

/// <summary>One captured <c>query-qmp-schema</c> (schemas/qmp/qemu-VERSION.json): the QEMU version and its entities by name.</summary>
public sealed class SchemaFile
{
    private SchemaFile(string version, string package, Dictionary<string, JsonElement> entities)
    {
        Version = version;
        Package = package;
        Entities = entities;
    }

    /// <summary>The QEMU version, e.g. "10.0.2".</summary>
    public string Version { get; }

    /// <summary>The distribution package it came from.</summary>
    public string Package { get; }

    /// <summary>Every entity (command, event, object, enum, array, alternate, builtin) by its (masked) name.</summary>
    public Dictionary<string, JsonElement> Entities { get; }

    /// <summary>Command names, sorted.</summary>
    public IEnumerable<string> Commands => Names("command");

    /// <summary>Event names, sorted.</summary>
    public IEnumerable<string> Events => Names("event");

    /// <summary>Reads one capture.</summary>
    public static SchemaFile Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement.Clone();
        var entities = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var entity in root.GetProperty("schema").EnumerateArray())
        {
            entities[entity.GetProperty("name").GetString()!] = entity;
        }

        return new SchemaFile(root.GetProperty("qemu").GetString()!, root.GetProperty("package").GetString() ?? "", entities);
    }

    /// <summary>Loads every capture in a folder, oldest QEMU first.</summary>
    public static IReadOnlyList<SchemaFile> LoadAll(string folder) =>
        Directory.GetFiles(folder, "qemu-*.json").Select(Load).OrderBy(s => System.Version.Parse(s.Version)).ToList();

    /// <summary>The meta-type of an entity.</summary>
    public string MetaType(string name) => Entities[name].GetProperty("meta-type").GetString()!;

    private IEnumerable<string> Names(string metaType) =>
        Entities.Values.Where(e => e.GetProperty("meta-type").GetString() == metaType).Select(e => e.GetProperty("name").GetString()!).Order(StringComparer.Ordinal);
}
