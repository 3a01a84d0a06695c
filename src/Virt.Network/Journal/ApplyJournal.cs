using System.IO.Abstractions;
using Virt.IO;
using Virt.Network.Definitions;

namespace Virt.Network.Journal;

/// <summary>One planned change as the journal records it (the netlink layer's words: operation, object, detail).</summary>
internal sealed record JournalEntry(string Operation, string Object, string Detail);

/// <summary>
/// <c>journal/apply.json</c>: what an apply (or a delete, or a port's prepare, connect or release) is about to do to the
/// host, written before it starts and removed when it ends. It holds the planned operations, the inverse operations a
/// rollback runs, and how many operations completed. A journal found by a later manager means its writer died half-way:
/// that manager rolls forward (see <see cref="Manager.NetworkManager"/>), re-planning the named network from its
/// definition; the recorded operations say what the dead process was doing, for the log and for a person.
/// </summary>
internal sealed record ApplyJournal(string Network, string Action, DateTimeOffset Started, int ProcessId, IReadOnlyList<JournalEntry> Operations, IReadOnlyList<JournalEntry> Rollback, int Completed);

/// <summary>Reads and writes the journal file, crash-safely through <see cref="StateFile"/>.</summary>
internal sealed class ApplyJournalFile
{
    private readonly IFileSystem _files;
    private readonly string _directory;

    public ApplyJournalFile(IFileSystem files, string stateDirectory)
    {
        _files = files;
        _directory = Path.Combine(stateDirectory, "journal");
    }

    public string FilePath => Path.Combine(_directory, "apply.json");

    public bool Exists => _files.File.Exists(FilePath);

    public void Write(ApplyJournal journal)
    {
        OwnerOnly.CreateDirectory(_files, _directory);
        StateFile.Write(_files, FilePath, NetworkJson.Serialize(journal), OwnerOnly.FileMode);
    }

    public ApplyJournal Read() => NetworkJson.Deserialize<ApplyJournal>(_files.File.ReadAllBytes(FilePath), "the apply journal", FilePath);

    public void Delete()
    {
        if (Exists)
        {
            _files.File.Delete(FilePath);
        }
    }
}
