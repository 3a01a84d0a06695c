using Moq;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;

namespace Virt.Kvm.Tests.VirtualMachines;

public sealed class QemuCapabilityProbeTests
{
    [Fact]
    public async Task The_binary_is_probed_once_and_parsed()
    {
        var binary = Path.GetTempFileName();
        try
        {
            var runner = new Mock<IProcessRunner>();
            runner.Setup(r => r.RunAsync(It.IsAny<ProcessSpec>(), It.IsAny<CancellationToken>()))
                .ReturnsAsync((ProcessSpec spec, CancellationToken _) => new ProcessResult(spec, 0, spec.Arguments[^1] switch
                {
                    "-version" => "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)\nCopyright (c) 2003-2025\n",
                    "help" when spec.Arguments[0] == "-machine" => "Supported machines are:\nmicrovm              microvm (i386)\nq35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-10.0)\n",
                    _ => "Accelerators supported in QEMU binary:\ntcg\nkvm\n",
                }, string.Empty, TimeSpan.Zero));
            var probe = new QemuCapabilityProbe(runner.Object);

            var first = await probe.GetAsync(binary, cancellationToken: TestContext.Current.CancellationToken);
            var second = await probe.GetAsync(binary, cancellationToken: TestContext.Current.CancellationToken);

            Assert.Same(first, second);
            Assert.Equal(1, probe.ProbeCount);
            Assert.Equal(new Version(10, 0, 2), first.Version);
            Assert.True(first.HasRunWith);
            Assert.True(first.HasReconnectMs);
            Assert.Contains("q35", first.Machines);
            Assert.Contains("microvm", first.Machines);
            Assert.Equal(new HashSet<string> { "tcg", "kvm" }, first.Accelerators);

            File.SetLastWriteTimeUtc(binary, DateTime.UtcNow.AddMinutes(1));
            await probe.GetAsync(binary, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(2, probe.ProbeCount);
        }
        finally
        {
            File.Delete(binary);
        }
    }

    [Fact]
    public async Task A_missing_binary_names_the_package()
    {
        var probe = new QemuCapabilityProbe(Mock.Of<IProcessRunner>());

        var error = await Assert.ThrowsAsync<VirtException>(() => probe.GetAsync("/nonexistent/qemu-system-x86_64", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("apt-get install qemu-system-x86", error.Message, StringComparison.Ordinal);
    }
}
