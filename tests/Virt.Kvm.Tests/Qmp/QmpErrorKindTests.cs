using Virt.Kvm.GuestAgent;
using Virt.Kvm.Qmp;

namespace Virt.Kvm.Tests.Qmp;

/// <summary>The QMP and guest-agent errors carry the category a host switches on.</summary>
public sealed class QmpErrorKindTests
{
    [Fact]
    public void QEMU_refusing_a_command_is_a_failure_and_a_dead_monitor_is_unavailable()
    {
        Assert.Equal(VirtErrorKind.Failed, new QmpException("stop", "GenericError", "no", "/run/qmp.sock").ErrorKind);
        Assert.Equal(VirtErrorKind.Unavailable, new QmpConnectionException("/run/qmp.sock", "QEMU closed the monitor").ErrorKind);
        Assert.Equal(VirtErrorKind.Unavailable, new QmpProtocolException("/run/qmp.sock", "not JSON", "garbage").ErrorKind);
        Assert.Equal(VirtErrorKind.Refused, new QmpUnsupportedException("blockdev-foo", null, "8.2.2", "/run/qmp.sock").ErrorKind);
        Assert.Equal(VirtErrorKind.Failed, new QmpEventOverflowException(16, "/run/qmp.sock").ErrorKind);
        Assert.Equal(VirtErrorKind.Timeout, VirtErrors.KindOf(new QmpTimeoutException("stop", TimeSpan.FromSeconds(1), "/run/qmp.sock", "is QEMU busy?")));
    }

    [Fact]
    public void The_guest_agent_refusing_is_a_failure_and_an_absent_agent_is_unavailable()
    {
        Assert.Equal(VirtErrorKind.Failed, new GuestAgentException("guest-exec", "GenericError", "no", "/run/qga.sock").ErrorKind);
        Assert.Equal(VirtErrorKind.Unavailable, new GuestAgentConnectionException("no agent").ErrorKind);
        Assert.Equal(VirtErrorKind.Timeout, VirtErrors.KindOf(new GuestAgentTimeoutException("guest-ping", TimeSpan.FromSeconds(1), "/run/qga.sock")));
    }
}
