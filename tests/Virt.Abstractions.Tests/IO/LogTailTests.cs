using System.IO.Abstractions.TestingHelpers;
using System.Text;
using Virt.IO;

namespace Virt.Abstractions.Tests.IO;

/// <summary>The end of a growing log: whole when short, bounded when long, never a broken character, empty when absent.</summary>
public sealed class LogTailTests
{
    private const string Log = "/var/log/vm/serial.log";

    private static MockFileSystem With(params (string Path, byte[] Content)[] files)
    {
        var fileSystem = new MockFileSystem();
        foreach (var (path, content) in files)
        {
            fileSystem.AddFile(path, new MockFileData(content));
        }

        return fileSystem;
    }

    [Fact]
    public async Task A_log_shorter_than_the_limit_is_read_whole()
    {
        var tail = await LogTail.ReadAsync(With((Log, "boot ok\n"u8.ToArray())), Log, 1024, TestContext.Current.CancellationToken);

        Assert.Equal(new LogTailResult("boot ok\n", Truncated: false, FileBytes: 8), tail);
    }

    [Fact]
    public async Task A_log_longer_than_the_limit_gives_its_last_bytes_and_says_it_left_some_out()
    {
        var tail = await LogTail.ReadAsync(With((Log, "0123456789"u8.ToArray())), Log, 4, TestContext.Current.CancellationToken);

        Assert.Equal(new LogTailResult("6789", Truncated: true, FileBytes: 10), tail);
    }

    [Fact]
    public async Task A_cut_inside_a_multi_byte_character_starts_the_text_at_the_next_whole_one()
    {
        // "é" is C3 A9 and "€" is E2 82 AC: a limit of 5 starts inside the euro sign.
        var content = Encoding.UTF8.GetBytes("aé€b!");
        Assert.Equal(8, content.Length);

        var tail = await LogTail.ReadAsync(With((Log, content)), Log, 4, TestContext.Current.CancellationToken);

        Assert.Equal("b!", tail.Text);
        Assert.DoesNotContain('\uFFFD', tail.Text);
        Assert.True(tail.Truncated);
    }

    [Fact]
    public async Task A_missing_log_reads_as_empty()
    {
        var tail = await LogTail.ReadAsync(new MockFileSystem(), Log, 1024, TestContext.Current.CancellationToken);

        Assert.Equal(new LogTailResult(string.Empty, Truncated: false, FileBytes: 0), tail);
        Assert.Equal(string.Empty, await LogTail.ReadTextAsync(new MockFileSystem(), "/no/such/directory/x.log", 16, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_trimmed_log_is_continued_from_its_rotated_part_when_the_live_file_holds_less()
    {
        var fileSystem = With((LogTail.RotatedPath(Log), "older-part\n"u8.ToArray()), (Log, "0123456789"u8.ToArray()));

        Assert.Equal(new LogTailResult("part\n0123456789", Truncated: true, FileBytes: 10), await LogTail.ReadAsync(fileSystem, Log, 15, TestContext.Current.CancellationToken));
        Assert.Equal(new LogTailResult("older-part\n0123456789", Truncated: false, FileBytes: 10), await LogTail.ReadAsync(fileSystem, Log, 100, TestContext.Current.CancellationToken));
        Assert.Equal(new LogTailResult("0123456789", Truncated: true, FileBytes: 10), await LogTail.ReadAsync(fileSystem, Log, 10, TestContext.Current.CancellationToken));
    }
}
