using System.IO.Abstractions.TestingHelpers;
using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines;

public sealed class VmEventJournalTests
{
    private const string Path = "/state/web/events.jsonl";
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly MockFileSystem _files = new(new Dictionary<string, MockFileData>(), "/state/web");

    private VmEventJournal Journal => new(_files, Path);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_follower_reads_only_what_was_recorded_after_it_started_and_each_entry_once()
    {
        await Journal.AppendAsync(100, new VmEvent("web", VmEventKind.Paused, At), Ct);
        var cursor = await Journal.OpenAtEndAsync(Ct);

        await Journal.AppendAsync(100, new VmEvent("web", VmEventKind.Resumed, At), Ct);
        await Journal.AppendAsync(100, new VmEvent("web", VmEventKind.Stopped, At, "guest shut down", 0), Ct);
        var read = await Journal.ReadNewAsync(cursor, Ct);
        var again = await Journal.ReadNewAsync(cursor, Ct);

        Assert.Equal([VmEventKind.Resumed, VmEventKind.Stopped], read.Select(e => e.Kind));
        Assert.Equal(("guest shut down", 0, 100), (read[1].Reason, read[1].ExitCode, read[1].Pid));
        Assert.Empty(again);
    }

    [Fact]
    public async Task A_new_writer_after_a_takeover_goes_on_numbering_from_the_file()
    {
        var cursor = await Journal.OpenAtEndAsync(Ct);
        await new VmEventJournal(_files, Path).AppendAsync(7, new VmEvent("web", VmEventKind.Paused, At), Ct);
        await new VmEventJournal(_files, Path).AppendAsync(7, new VmEvent("web", VmEventKind.Resumed, At), Ct);

        Assert.Equal([1L, 2L], (await Journal.ReadNewAsync(cursor, Ct)).Select(e => e.Sequence));
    }

    [Fact]
    public async Task The_journal_stays_bounded_and_a_follower_that_checks_between_rotations_misses_nothing()
    {
        var cursor = await Journal.OpenAtEndAsync(Ct);
        var seen = new List<string?>();
        for (var i = 0; i < 2000; i++)
        {
            await Journal.AppendAsync(1, new VmEvent("web", i % 2 == 0 ? VmEventKind.Paused : VmEventKind.Resumed, At, $"event {i}"), Ct);
            if (i % 50 == 0)
            {
                seen.AddRange((await Journal.ReadNewAsync(cursor, Ct)).Select(e => e.Reason));
            }

            Assert.True(_files.FileInfo.New(Path).Length <= VmEventJournal.MaxBytes);
        }

        seen.AddRange((await Journal.ReadNewAsync(cursor, Ct)).Select(e => e.Reason));

        Assert.Equal(Enumerable.Range(0, 2000).Select(i => $"event {i}"), seen);
    }

    [Fact]
    public async Task A_line_torn_by_a_crashed_writer_is_skipped_and_the_next_one_is_whole()
    {
        await Journal.AppendAsync(1, new VmEvent("web", VmEventKind.Paused, At), Ct);
        var cursor = await Journal.OpenAtEndAsync(Ct);
        await _files.File.AppendAllTextAsync(Path, "{\"Sequence\":2,\"Pid\":1,\"Ki", Ct);

        Assert.Empty(await Journal.ReadNewAsync(cursor, Ct));
        await Journal.AppendAsync(1, new VmEvent("web", VmEventKind.Resumed, At), Ct);

        var read = Assert.Single(await Journal.ReadNewAsync(cursor, Ct));
        Assert.Equal((2L, VmEventKind.Resumed), (read.Sequence, read.Kind));
    }
}
