using System.IO.Abstractions;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Virt.IO;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>One line of a <see cref="VmEventJournal"/>: a VM event, numbered, and the QEMU run (pid) it happened in.</summary>
internal sealed record VmJournalEntry(long Sequence, int Pid, VmEventKind Kind, DateTimeOffset At, string? Reason = null, int? ExitCode = null);

/// <summary>Where a follower has read a journal up to.</summary>
internal sealed class VmJournalCursor
{
    /// <summary>The highest sequence number already handed out.</summary>
    public long Seen { get; set; }

    /// <summary>The file's length and write time when it was last read: unchanged, there is nothing new to read.</summary>
    public (long Length, DateTime WrittenAt) Signature { get; set; }
}

/// <summary>
/// The VM's state events, shared between the processes that manage it. Only the owner sees QEMU's events
/// (on the main monitor); it appends each one here as a JSON line with a sequence number, and the processes
/// that follow the run read what is new on their periodic check and publish it to their own watchers. There
/// is one writer at a time (the owner lock's holder), and the writer works from the file alone (the next
/// number is the last line's plus one), so a process that takes the VM over simply goes on.
/// </summary>
/// <remarks>
/// Bounded: once the file would pass <see cref="MaxBytes"/>, it is replaced (crash-safely, through
/// <see cref="StateFile"/>) by its newest <see cref="KeptAfterRotation"/> lines and the new one. A follower
/// reads the whole file when its length or write time changed and keeps the lines numbered after the last
/// one it saw, so a rotation loses nothing it had not read yet unless hundreds of events came within one of
/// its checks. A line torn by a crash of the writer is skipped; the next line starts on a line of its own.
/// </remarks>
internal sealed class VmEventJournal(IFileSystem fileSystem, string path)
{
    /// <summary>The size beyond which the journal is cut down to its newest lines.</summary>
    internal const int MaxBytes = 64 * 1024;

    /// <summary>How many of the newest lines a rotation keeps.</summary>
    internal const int KeptAfterRotation = 100;

    /// <summary>Appends an event of the run with QEMU pid <paramref name="pid"/>; returns its sequence number.</summary>
    public async Task<long> AppendAsync(int pid, VmEvent vmEvent, CancellationToken cancellationToken)
    {
        var text = fileSystem.File.Exists(path) ? await fileSystem.File.ReadAllTextAsync(path, Encoding.UTF8, cancellationToken).ConfigureAwait(false) : string.Empty;
        var lines = CompleteLines(text);
        var entry = new VmJournalEntry(LastSequence(lines) + 1, pid, vmEvent.Kind, vmEvent.At, vmEvent.Reason, vmEvent.ExitCode);
        var line = JsonSerializer.Serialize(entry, VmJournalJsonContext.Default.VmJournalEntry) + "\n";
        if (Encoding.UTF8.GetByteCount(text) + Encoding.UTF8.GetByteCount(line) > MaxBytes)
        {
            var kept = string.Concat(lines.Skip(Math.Max(0, lines.Count - KeptAfterRotation)).Select(l => l + "\n"));
            await StateFile.WriteAsync(fileSystem, path, Encoding.UTF8.GetBytes(kept + line), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
            return entry.Sequence;
        }

        // A line torn by a crashed writer is closed first, so this one stays whole.
        var bytes = Encoding.UTF8.GetBytes(text.Length == 0 || text.EndsWith('\n') ? line : "\n" + line);
        var stream = fileSystem.FileStream.New(path, new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, UnixCreateMode = OwnerOnly.FileMode });
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        return entry.Sequence;
    }

    /// <summary>A cursor at the journal's end: what a follower starts from (it does not replay the past).</summary>
    public async Task<VmJournalCursor> OpenAtEndAsync(CancellationToken cancellationToken)
    {
        var cursor = new VmJournalCursor();
        await ReadNewAsync(cursor, cancellationToken).ConfigureAwait(false);
        return cursor;
    }

    /// <summary>The entries numbered after the cursor's, oldest first; moves the cursor past them.</summary>
    public async Task<IReadOnlyList<VmJournalEntry>> ReadNewAsync(VmJournalCursor cursor, CancellationToken cancellationToken)
    {
        var file = fileSystem.FileInfo.New(path);
        if (!file.Exists)
        {
            return [];
        }

        // Taken before reading: anything written after this read changes it, so the next check reads again.
        var signature = (file.Length, file.LastWriteTimeUtc);
        if (signature == cursor.Signature)
        {
            return [];
        }

        string text;
        try
        {
            text = await fileSystem.File.ReadAllTextAsync(path, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return [];
        }

        var entries = CompleteLines(text).Select(Parse).OfType<VmJournalEntry>().Where(e => e.Sequence > cursor.Seen).ToList();
        cursor.Signature = signature;
        if (entries.Count > 0)
        {
            cursor.Seen = entries.Max(e => e.Sequence);
        }

        return entries;
    }

    /// <summary>The lines that end in a newline: a last line without one is still being written (or was torn).</summary>
    private static List<string> CompleteLines(string text)
    {
        var end = text.LastIndexOf('\n');
        return end < 0 ? [] : [.. text[..end].Split('\n').Where(l => l.Length > 0)];
    }

    private static long LastSequence(List<string> lines)
    {
        for (var i = lines.Count - 1; i >= 0; i--)
        {
            if (Parse(lines[i]) is { } entry)
            {
                return entry.Sequence;
            }
        }

        return 0;
    }

    private static VmJournalEntry? Parse(string line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, VmJournalJsonContext.Default.VmJournalEntry);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Source-generated JSON for the event journal: one compact object per line.</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VmJournalEntry))]
internal sealed partial class VmJournalJsonContext : JsonSerializerContext;
