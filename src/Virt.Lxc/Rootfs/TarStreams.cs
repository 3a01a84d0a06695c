using System.Diagnostics;
using System.IO.Compression;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Opens a tarball as a plain tar stream, recognising the compression by its magic bytes rather than
/// the file name: gzip in-process; xz and zstd through Debian's <c>xz</c> and <c>zstd</c> (no managed
/// decoder ships with .NET), streamed, never to a temporary file.
/// </summary>
internal sealed class TarStreams : IAsyncDisposable
{
    private readonly Process? _decompressor;
    private readonly Stream _file;

    private TarStreams(Stream file, Stream tar, Process? decompressor)
    {
        _file = file;
        Tar = tar;
        _decompressor = decompressor;
    }

    public Stream Tar { get; }

    public static async Task<TarStreams> OpenAsync(string path, CancellationToken cancellationToken)
    {
        var file = File.OpenRead(path);
        var magic = new byte[6];
        var read = await file.ReadAtLeastAsync(magic, magic.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        file.Position = 0;
        if (read >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            return new TarStreams(file, new GZipStream(file, CompressionMode.Decompress, leaveOpen: true), null);
        }

        string? tool = null;
        if (read >= 6 && magic.AsSpan().SequenceEqual(new byte[] { 0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0 }))
        {
            tool = "xz";
        }
        else if (read >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
        {
            tool = "zstd";
        }

        if (tool is null)
        {
            return new TarStreams(file, file, null);
        }

        await file.DisposeAsync().ConfigureAwait(false);
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-dc");
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(path);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new IOException($"cannot start {tool}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new IOException($"'{path}' is {tool}-compressed and '{tool}' cannot be run ({ex.Message}): install Debian's {(tool == "xz" ? "xz-utils" : "zstd")}", ex);
        }

        return new TarStreams(Stream.Null, process.StandardOutput.BaseStream, process);
    }

    /// <summary>Throws if the decompressor failed (a truncated or corrupt file).</summary>
    public async Task EnsureCompleteAsync(CancellationToken cancellationToken)
    {
        if (_decompressor is null)
        {
            return;
        }

        // Drain what the tar reader did not need (trailing zero blocks), so the tool can exit.
        await Tar.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        await _decompressor.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (_decompressor.ExitCode != 0)
        {
            var error = await _decompressor.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            throw new InvalidDataException($"{_decompressor.StartInfo.FileName} failed with exit code {_decompressor.ExitCode}: {error.Trim()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_decompressor is not null)
        {
            if (!_decompressor.HasExited)
            {
                _decompressor.Kill();
            }

            _decompressor.Dispose();
        }

        await Tar.DisposeAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
