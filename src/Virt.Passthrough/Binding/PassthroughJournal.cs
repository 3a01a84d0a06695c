using System.IO.Abstractions;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Virt.IO;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Binding;

/// <summary>One device in the journal: what it was before the first write, so it can be put back.</summary>
internal sealed record JournalEntry(string Address, string? OriginalDriver, string? OriginalOverride, string Driver, int Group);

/// <summary>An owner's journal file.</summary>
internal sealed record JournalRecord(string Owner, List<JournalEntry> Devices);

[JsonSerializable(typeof(JournalRecord))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class JournalJsonContext : JsonSerializerContext;

/// <summary>
/// The bindings' journal: one JSON file per owner under <c>StateDirectory/bindings</c>, written (temp
/// file flushed to disk, rename, directory flushed: <see cref="StateFile"/>) before the first sysfs write of a bind, and shrunk as devices are restored — so
/// that a release after a crash of the application knows every original driver and override.
/// </summary>
internal sealed partial class PassthroughJournal(IFileSystem fileSystem, PassthroughOptions options)
{
    private string Directory => fileSystem.Path.Combine(options.StateDirectory, "bindings");

    public static void ValidateOwner(string owner)
    {
        if (string.IsNullOrEmpty(owner) || owner.Length > 128 || !OwnerPattern().IsMatch(owner))
        {
            throw new ArgumentException($"owner '{owner}' is not valid: use 1–128 letters, digits, '.', '_', ':' or '-' (e.g. vm:web-1)", nameof(owner));
        }
    }

    public JournalRecord? Read(string owner)
    {
        var path = PathOf(owner);
        return fileSystem.File.Exists(path) ? JsonSerializer.Deserialize(fileSystem.File.ReadAllText(path), JournalJsonContext.Default.JournalRecord) : null;
    }

    public IReadOnlyList<JournalRecord> ReadAll()
    {
        if (!fileSystem.Directory.Exists(Directory))
        {
            return [];
        }

        return fileSystem.Directory.GetFiles(Directory)
            .Where(file => file.EndsWith(".json", StringComparison.Ordinal))
            .Select(file => JsonSerializer.Deserialize(fileSystem.File.ReadAllText(file), JournalJsonContext.Default.JournalRecord))
            .OfType<JournalRecord>()
            .OrderBy(record => record.Owner, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Who holds each bound device (by address), from one read of every journal file.</summary>
    public Dictionary<PciAddress, string> Owners() =>
        ReadAll().SelectMany(record => record.Devices.Select(entry => (Address: PciAddress.Parse(entry.Address), record.Owner))).GroupBy(entry => entry.Address).ToDictionary(group => group.Key, group => group.First().Owner);

    public void Write(JournalRecord record)
    {
        if (record.Devices.Count == 0)
        {
            Delete(record.Owner);
            return;
        }

        OwnerOnly.CreateDirectory(fileSystem, options.StateDirectory);
        OwnerOnly.CreateDirectory(fileSystem, Directory);
        StateFile.Write(fileSystem, PathOf(record.Owner), JsonSerializer.SerializeToUtf8Bytes(record, JournalJsonContext.Default.JournalRecord), OwnerOnly.FileMode);
    }

    public void Delete(string owner)
    {
        var path = PathOf(owner);
        if (fileSystem.File.Exists(path))
        {
            fileSystem.File.Delete(path);
        }
    }

    private string PathOf(string owner) => fileSystem.Path.Combine(Directory, owner + ".json");

    [GeneratedRegex("^[A-Za-z0-9._:-]+$")]
    private static partial Regex OwnerPattern();
}
