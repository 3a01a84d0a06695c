using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Security;

/// <summary>A container's command decides how much it prints: what the SDK collects is capped, the rest drained and dropped.</summary>
public sealed class ExecOutputSecurityTests
{
    [Fact(Timeout = 300_000)]
    public async Task Four_hundred_MB_of_output_is_collected_up_to_the_cap_and_the_rest_drained_without_holding_it()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("flood"), ct);
        await container.StartAsync(cancellationToken: ct);

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var flood = await container.ExecAsync(new ContainerExecRequest(["head", "-c", "419430400", "/dev/zero"]) { Timeout = TimeSpan.FromMinutes(4) }, ct);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Assert.Equal((ContainerExecOutcome.Exited, 0), (flood.Outcome, flood.ExitCode));
        Assert.True(flood.StandardOutputTruncated);
        Assert.False(flood.StandardErrorTruncated);
        Assert.Equal(ContainerExecRequest.DefaultMaxCollectedOutputBytes, flood.StandardOutput.Length);

        // 16 MiB kept (its buffer grows by doubling) and one 16 Mi-char string; 400 MB would be well over a gigabyte.
        Assert.True(allocated < 256L * 1024 * 1024, $"{allocated} bytes allocated for a 16 MiB cap");

        var errors = await container.ExecAsync(new ContainerExecRequest(["sh", "-c", "head -c 5000000 /dev/zero >&2; echo done"]) { MaxCollectedOutputBytes = 1024 * 1024 }, ct);
        Assert.Equal((0, "done\n", false), (errors.ExitCode, errors.StandardOutput, errors.StandardOutputTruncated));
        Assert.True(errors.StandardErrorTruncated);
        Assert.Equal(1024 * 1024, errors.StandardError.Length);

        var combined = await container.ExecAsync(new ContainerExecRequest(["sh", "-c", "head -c 3000 /dev/zero; head -c 3000 /dev/zero >&2"]) { MaxCollectedOutputBytes = 4096, CombineOutput = true }, ct);
        Assert.Equal((4096, true, string.Empty), (combined.StandardOutput.Length, combined.StandardOutputTruncated, combined.StandardError));

        // The streaming form has no cap: everything reaches the caller's stream, nothing is collected.
        var counter = new CountingStream();
        var streamed = await container.ExecAsync(new ContainerExecRequest(["head", "-c", "104857600", "/dev/zero"]) { StandardOutput = counter, Timeout = TimeSpan.FromMinutes(2) }, ct);
        Assert.Equal((0, 100L * 1024 * 1024, string.Empty, false), (streamed.ExitCode, counter.Count, streamed.StandardOutput, streamed.StandardOutputTruncated));

        await Assert.ThrowsAsync<ArgumentException>(() => container.ExecAsync(new ContainerExecRequest(["true"]) { MaxCollectedOutputBytes = 0 }, ct));
        await container.KillAsync(ct);
    }

    private sealed class CountingStream : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Count;

        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Count += count;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
