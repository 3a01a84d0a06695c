using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using Virt.Lxc.Interop;
using Virt.Processes;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Reads an open tarball as a plain tar stream, recognising the compression by its magic bytes rather than
/// the file name: gzip in-process; xz and zstd through Debian's <c>xz</c> and <c>zstd</c> (no managed
/// decoder ships with .NET), fed on their standard input from the descriptor the SDK opened and checked —
/// never by path, never through a temporary file.
/// </summary>
internal sealed class TarStreams : IAsyncDisposable
{
    private readonly IRunningProcess? _decompressor;
    private readonly Task _pump;
    private readonly CancellationTokenSource? _pumpCancellation;

    private TarStreams(Stream tar, IRunningProcess? decompressor, Task pump, CancellationTokenSource? pumpCancellation)
    {
        Tar = tar;
        _decompressor = decompressor;
        _pump = pump;
        _pumpCancellation = pumpCancellation;
    }

    public Stream Tar { get; }

    /// <summary>
    /// Opens a file the caller named (a tarball, an archive of a layout) for reading: its path is the
    /// caller's and is resolved normally, but it must be a regular file — a FIFO or device is refused
    /// without blocking on it.
    /// </summary>
    public static SafeFileHandle OpenRegularFile(string path)
    {
        var fd = LibC.Open(path, LibC.ORdonly | LibC.ONonblock | LibC.OCloexec);
        if (fd < 0)
        {
            throw new IOException($"cannot open '{path}': {LibC.LastError()}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibCAt.StatFd(fd) is not { Type: LibC.SIfreg })
        {
            handle.Dispose();
            throw new InvalidDataException($"'{path}' is not a regular file (a directory, FIFO, socket or device): give a tarball");
        }

        return handle;
    }

    /// <summary>
    /// The tar stream of <paramref name="content"/>, which reads <paramref name="file"/> from its start (it
    /// may be a wrapper that hashes or bounds what is read). The compression is recognised by reading the
    /// first bytes of <paramref name="file"/> at offset 0, which leaves <paramref name="content"/> untouched.
    /// The caller keeps ownership of both.
    /// </summary>
    public static async Task<TarStreams> OpenAsync(SafeFileHandle file, Stream content, string display, IProcessRunner processes, CancellationToken cancellationToken)
    {
        var magic = new byte[6];
        var read = await RandomAccess.ReadAsync(file, magic, 0, cancellationToken).ConfigureAwait(false);
        if (read >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            return new TarStreams(new GZipStream(content, CompressionMode.Decompress, leaveOpen: true), null, Task.CompletedTask, null);
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
            return new TarStreams(new NonClosingStream(content), null, Task.CompletedTask, null);
        }

        IRunningProcess process;
        try
        {
            process = processes.Start(new ProcessSpec(tool, ["-dc"]));
        }
        catch (VirtException ex) when (ex.InnerException is System.ComponentModel.Win32Exception start)
        {
            throw new IOException($"'{display}' is {tool}-compressed and '{tool}' cannot be run ({start.Message}): install Debian's {(tool == "xz" ? "xz-utils" : "zstd")}", start);
        }

        var pumpCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpAsync(content, process.StandardInput, pumpCancellation.Token);
        return new TarStreams(process.StandardOutput, process, pump, pumpCancellation);
    }

    private static async Task PumpAsync(Stream content, Stream input, CancellationToken cancellationToken)
    {
        await using (input.ConfigureAwait(false))
        {
            await content.CopyToAsync(input, cancellationToken).ConfigureAwait(false);
        }
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
        var exitCode = await _decompressor.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            using var standardError = new StreamReader(_decompressor.StandardError, leaveOpen: true);
            var error = await standardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            throw new InvalidDataException($"{_decompressor.Spec.FileName} failed with exit code {exitCode}: {error.Trim()}");
        }

        await _pump.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_decompressor is not null)
        {
            // Kills the tool if it still runs (the caller stopped early).
            await _decompressor.DisposeAsync().ConfigureAwait(false);
        }

        if (_pumpCancellation is not null)
        {
            await _pumpCancellation.CancelAsync().ConfigureAwait(false);
            try
            {
                await _pump.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidDataException or ObjectDisposedException)
            {
                // The tool was stopped (an error or a cancellation is already on its way to the caller).
            }

            _pumpCancellation.Dispose();
        }

        await Tar.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The caller's stream, read through but not closed when the tar stream is.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
