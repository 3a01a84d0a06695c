using System.IO.Abstractions;
using System.Text;

namespace Virt.IO;

/// <summary>
/// Reads the end of a log that something else keeps writing (a VM's serial log, QEMU's log, LXC's start log,
/// a container's console) by seeking, so a log a guest made huge costs no more than what is asked for. A log
/// its writer has trimmed keeps its older part in <c>PATH.1</c>; that is read too when the live file holds
/// less than asked.
/// </summary>
/// <remarks>
/// The read never goes past the length the file had when it was opened, so a writer appending meanwhile does
/// not make it longer, and a file truncated meanwhile gives what was still there. The text starts at the first
/// whole UTF-8 character: bytes of a character cut by the limit are dropped, never shown as a replacement character.
/// </remarks>
public static class LogTail
{
    /// <summary>The name of the file that holds a log's older part once its writer has trimmed it.</summary>
    /// <param name="path">The live log.</param>
    /// <returns><c>PATH.1</c>.</returns>
    public static string RotatedPath(string path) => path + ".1";

    /// <summary>The last <paramref name="maxBytes"/> bytes of the log (and of its rotated part, when the live file holds fewer).</summary>
    /// <param name="fileSystem">The file system to read through (the real one on a host).</param>
    /// <param name="path">The log file.</param>
    /// <param name="maxBytes">The most bytes to read.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text, whether older content was left out, and the live file's size; empty when there is no log.</returns>
    public static async Task<LogTailResult> ReadAsync(IFileSystem fileSystem, string path, int maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var live = await ReadEndAsync(fileSystem, path, maxBytes, cancellationToken).ConfigureAwait(false);
        var room = maxBytes - live.Bytes.Length;
        var older = live.LeftOut
            ? End.Missing
            : room > 0
                ? await ReadEndAsync(fileSystem, RotatedPath(path), room, cancellationToken).ConfigureAwait(false)
                : End.Unread(fileSystem.File.Exists(RotatedPath(path)));
        byte[] bytes = [.. older.Bytes, .. live.Bytes];
        var leftOut = live.LeftOut || older.LeftOut;
        return new LogTailResult(Encoding.UTF8.GetString(bytes.AsSpan(leftOut ? ContinuationBytesAtStart(bytes) : 0)), leftOut, live.FileBytes);
    }

    /// <summary>The last <paramref name="maxBytes"/> bytes of the log as text; empty when there is no log.</summary>
    /// <param name="fileSystem">The file system to read through.</param>
    /// <param name="path">The log file.</param>
    /// <param name="maxBytes">The most bytes to read.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text (see <see cref="ReadAsync"/>).</returns>
    public static async Task<string> ReadTextAsync(IFileSystem fileSystem, string path, int maxBytes, CancellationToken cancellationToken = default) =>
        (await ReadAsync(fileSystem, path, maxBytes, cancellationToken).ConfigureAwait(false)).Text;

    private static async Task<End> ReadEndAsync(IFileSystem fileSystem, string path, int maxBytes, CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = fileSystem.File.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return End.Missing;
        }

        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            var start = Math.Max(0, length - maxBytes);
            stream.Position = start;
            var buffer = new byte[length - start];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return new End(read == buffer.Length ? buffer : buffer[..read], start > 0, length);
        }
    }

    /// <summary>A UTF-8 character is at most 4 bytes: at most 3 continuation bytes (10xxxxxx) can open a cut.</summary>
    private static int ContinuationBytesAtStart(ReadOnlySpan<byte> bytes)
    {
        var skip = 0;
        while (skip < bytes.Length && skip < 3 && (bytes[skip] & 0xC0) == 0x80)
        {
            skip++;
        }

        return skip;
    }

    private sealed record End(byte[] Bytes, bool LeftOut, long FileBytes)
    {
        public static readonly End Missing = new([], false, 0);

        /// <summary>A file not read because the live one filled the limit: left out when it exists.</summary>
        public static End Unread(bool exists) => exists ? new([], true, 0) : Missing;
    }
}
