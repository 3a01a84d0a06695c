using System.Net;
using Virt.Network.Host;
using Virt.Network.Netlink;

namespace Virt.Network.Tests.Netlink;

/// <summary>How the kernel's acknowledgements become the errors callers see.</summary>
public sealed class NetlinkErrorsTests
{
    [Fact]
    public void AnExtendedAckCarriesTheKernelsMessage()
    {
        // nlmsgerr: error -EEXIST, the request's header only (NLM_F_CAPPED), then NLMSGERR_ATTR_MSG "Device exists".
        var payload = Convert.FromHexString("efffffff" + "20000000100005060100000000000000" + "1200" + "0100" + "446576696365206578697374730000");
        var ack = NetlinkSocket.ReadAck(new NetlinkMessage(MessageType.Error, MessageFlags.Capped | MessageFlags.AckTlvs, 1, payload));

        Assert.Equal(new NetlinkAck(17, "Device exists"), ack);
        Assert.Equal("File exists (kernel: Device exists)", NetlinkErrors.Describe(ack));
    }

    [Fact]
    public void APlainAckIsSuccess()
    {
        var payload = Convert.FromHexString("00000000" + "20000000100005000100000000000000");

        Assert.Equal(new NetlinkAck(0, null), NetlinkSocket.ReadAck(new NetlinkMessage(MessageType.Error, MessageFlags.Capped, 1, payload)));
    }

    [Fact]
    public void ADuplicateLinkIsAConflictThatNamesTheLinkAndTheFix()
    {
        var operation = new CreateBridge("vn-lab", "virt:network:lab", null, false);
        var error = new NetlinkOperationException(3, operation, 17, NetlinkErrors.Explain(operation, new NetlinkAck(17, null)));

        Assert.Equal(Virt.VirtErrorKind.Conflict, error.ErrorKind);
        Assert.Equal(
            "RTM_NEWLINK link vn-lab (bridge, mtu default, vlan_filtering 0, alias 'virt:network:lab') failed: File exists; link vn-lab exists already: delete it, pick another name, or adopt it explicitly (errno 17)",
            error.Message);
    }

    [Fact]
    public void MissingVlanFilteringIsRefusedWithTheReason()
    {
        var operation = new AddPortVlan("vp0", 10, true, true);
        var error = new NetlinkOperationException(0, operation, 95, NetlinkErrors.Explain(operation, new NetlinkAck(95, null)));

        Assert.Equal(Virt.VirtErrorKind.Refused, error.ErrorKind);
        Assert.Contains("failed: Operation not supported; this kernel has no bridge VLAN filtering", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(19, "the link does not exist (any more)")]
    [InlineData(1, "run as root")]
    public void CommonErrnosGetTheirFix(int errno, string fix)
    {
        Assert.Contains(fix, NetlinkErrors.Explain(new AddAddress("br0", IPNetwork.Parse("192.0.2.0/24"), IPAddress.Parse("192.0.2.1")), new NetlinkAck(errno, null)), StringComparison.Ordinal);
    }
}
