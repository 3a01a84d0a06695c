using System.Text;

namespace Virt.VirtualMachines;

/// <summary>
/// Reads the end of a VM's log (<see cref="VmEndpoints.SerialLog"/>, <see cref="VmEndpoints.Log"/>)
/// by seeking, so a log a guest made large costs no more than what is asked for. A log the backend
/// has trimmed keeps its older part in <c>PATH.1</c>; that is read too when the live file holds less
/// than asked.
/// </summary>
public static class VmLogTail
{
    /// <summary>The last <paramref name="maxBytes"/> bytes of the log as text (UTF-8; a character cut at the start is replaced), or empty when there is no log.</summary>
    /// <param name="path">The log file.</param>
    /// <param name="maxBytes">The most bytes to read.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text.</returns>
    public static async Task<string> ReadAsync(string path, int maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var live = await ReadEndAsync(path, maxBytes, cancellationToken).ConfigureAwait(false);
        var older = live.Length < maxBytes ? await ReadEndAsync(path + ".1", maxBytes - live.Length, cancellationToken).ConfigureAwait(false) : [];
        return Encoding.UTF8.GetString([.. older, .. live]);
    }

    private static async Task<byte[]> ReadEndAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, useAsync: false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }

        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            var count = (int)Math.Min(length, maxBytes);
            stream.Seek(length - count, SeekOrigin.Begin);
            var buffer = new byte[count];
            var read = 0;
            while (read < count)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read, count - read), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            return read == count ? buffer : buffer[..read];
        }
    }
}
