using System.IO.Abstractions;
using System.Text;

namespace Virt.Lxc.Containers;

/// <summary>
/// Reads the end of a log that something else may keep writing (LXC's monitor, a container's console):
/// at most the asked-for bytes, from a seek to near the end — never the whole file, however large it grew.
/// </summary>
internal static class LogTail
{
    /// <summary>The last <paramref name="maxBytes"/> bytes of <paramref name="path"/> as UTF-8, or empty when it does not exist.</summary>
    public static async Task<string> ReadAsync(IFileSystem fileSystem, string path, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        Stream stream;
        try
        {
            stream = fileSystem.File.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return string.Empty;
        }

        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            var start = Math.Max(0, length - maxBytes);
            stream.Position = start;

            // Read no more than was there at the seek: a writer appending meanwhile does not make the read longer.
            var buffer = new byte[length - start];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            var text = buffer.AsSpan(0, read);

            // A cut in the middle of a UTF-8 sequence would start with a replacement character: skip continuation bytes.
            var skip = 0;
            while (start > 0 && skip < text.Length && skip < 3 && (text[skip] & 0xC0) == 0x80)
            {
                skip++;
            }

            return Encoding.UTF8.GetString(text[skip..]);
        }
    }
}
