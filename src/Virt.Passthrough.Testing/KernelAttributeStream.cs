using System.IO.Abstractions;
using System.Text;

namespace Virt.Passthrough.Testing;

/// <summary>
/// A sysfs attribute opened for writing: each write reaches the fake kernel at once, as one
/// <c>write(2)</c> does, and its error is thrown from the write.
/// </summary>
internal sealed class KernelAttributeStream : FileSystemStream
{
    private readonly FakePciHost _host;
    private readonly string _path;

    public KernelAttributeStream(FakePciHost host, string path)
        : base(new MemoryStream(), path, false)
    {
        _host = host;
        _path = path;
    }

    public override bool CanRead => false;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => _host.Kernel.Write(_path, Encoding.ASCII.GetString(buffer));

    public override void WriteByte(byte value) => Write([value]);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
