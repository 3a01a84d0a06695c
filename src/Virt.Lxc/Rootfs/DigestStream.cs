using System.Security.Cryptography;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Reads a blob through, hashing what passes and refusing to read past the size its descriptor declares,
/// so what is unpacked is exactly what was verified (a file changed in place after the first check is
/// caught at the end) and a blob that grows cannot make the read endless.
/// </summary>
internal sealed class DigestStream(Stream inner, long declaredSize, string description) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => declaredSize;

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer[..Limit(buffer.Length)]);
        return Count(buffer[..read]);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer[..Limit(buffer.Length)], cancellationToken).ConfigureAwait(false);
        return Count(buffer.Span[..read]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads what is left, then throws unless exactly the declared size was read and it hashes to <paramref name="hexDigest"/>.</summary>
    public async Task VerifyAsync(string hexDigest, CancellationToken cancellationToken)
    {
        await CopyToAsync(Null, cancellationToken).ConfigureAwait(false);
        if (_read != declaredSize)
        {
            throw new InvalidDataException($"{description} holds {_read} bytes, but its descriptor says {declaredSize}: the layout is corrupt");
        }

        // The hash the content has is not shown: the blob may not be the caller's to read.
        if (!string.Equals(Convert.ToHexStringLower(_hash.GetHashAndReset()), hexDigest, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{description} does not hash to its digest: the layout is corrupt (or was changed while it was read)");
        }
    }

    /// <summary>How much to ask for: up to one byte past the declared size, so a longer blob is noticed.</summary>
    private int Limit(int wanted) => (int)Math.Min(wanted, Math.Max(0, declaredSize + 1 - _read));

    private int Count(ReadOnlySpan<byte> data)
    {
        _read += data.Length;
        if (_read > declaredSize)
        {
            throw new InvalidDataException($"{description} is longer than the {declaredSize} bytes its descriptor declares: the layout is corrupt");
        }

        _hash.AppendData(data);
        return data.Length;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
