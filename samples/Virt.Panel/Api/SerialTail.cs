using System.Text;

namespace Virt.Panel.Api;

/// <summary>
/// The end of a serial log, read by seeking: however big the guest made the file, one request reads at most
/// <see cref="MaxBytes"/> of it (the text then starts at the first whole UTF-8 character).
/// </summary>
internal static class SerialTail
{
    public const int MaxBytes = 256 * 1024;
    public const string TruncatedHeader = "X-Virt-Truncated";
    public const string SizeHeader = "X-Virt-Log-Size";

    public static async Task<(string Text, bool Truncated, long FileBytes)> ReadAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, Options = FileOptions.Asynchronous });
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return (string.Empty, false, 0);
        }

        await using (stream)
        {
            var length = stream.Length;
            var start = Math.Max(0, length - maxBytes);
            stream.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[(int)(length - start)];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            var skip = 0;
            while (start > 0 && skip < read && (buffer[skip] & 0xC0) == 0x80)
            {
                skip++;
            }

            return (Encoding.UTF8.GetString(buffer, skip, read - skip), start > 0, length);
        }
    }
}
