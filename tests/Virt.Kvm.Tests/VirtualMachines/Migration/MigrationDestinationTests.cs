using Virt.Kvm.VirtualMachines.Migration;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>Which hand-given destinations a migration may name, and when a clear-text stream must have been allowed.</summary>
public sealed class MigrationDestinationTests
{
    [Theory]
    [InlineData("tcp:127.0.0.1:4444")]
    [InlineData("tcp:127.1.2.3:4444")]
    [InlineData("tcp:localhost:4444")]
    [InlineData("tcp:[::1]:4444")]
    [InlineData("tcp:0.0.0.0:4444")]
    [InlineData("tcp:[::]:4444")]
    [InlineData("unix:/run/virt/incoming.sock")]
    public void Destinations_on_this_host_need_no_permission_for_clear_text(string uri)
    {
        MigrationDestination.Check("web", uri, allowClearText: false);
    }

    [Theory]
    [InlineData("tcp:198.51.100.7:4444")]
    [InlineData("tcp:host-b.example:4444")]
    [InlineData("tcp:[2001:db8::2]:4444")]
    public void A_tcp_destination_on_another_host_is_refused_unless_clear_text_is_allowed(string uri)
    {
        var refused = Assert.Throws<ArgumentException>(() => MigrationDestination.Check("web", uri, allowClearText: false));

        Assert.Contains($"'{uri}' is another host", refused.Message, StringComparison.Ordinal);
        Assert.Contains("AllowClearText", refused.Message, StringComparison.Ordinal);
        Assert.Contains("PrepareIncomingAsync", refused.Message, StringComparison.Ordinal);
        MigrationDestination.Check("web", uri, allowClearText: true);
    }

    [Theory]
    [InlineData("exec:touch /tmp/x")]
    [InlineData("file:/etc/passwd")]
    [InlineData("fd:3")]
    [InlineData("tcp:127.0.0.1:4444,exec:x")]
    [InlineData("tcp:198.51.100.7:4444,exec:x")]
    [InlineData("rdma:127.0.0.1:4444")]
    public void Transports_that_are_not_a_waiting_QEMU_are_refused_even_with_clear_text_allowed(string uri)
    {
        var refused = Assert.Throws<ArgumentException>(() => MigrationDestination.Check("web", uri, allowClearText: true));

        Assert.Contains("tcp:HOST:PORT or unix:/absolute/path", refused.Message, StringComparison.Ordinal);
    }
}
