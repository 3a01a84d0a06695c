using Virt.Networking;

namespace Virt.Abstractions.Tests.Networking;

public sealed class NetworkNamesTests
{
    [Theory]
    [InlineData("web", "web")]
    [InlineData("Web_1.lab", "web-1-lab")]
    [InlineData("-edge-", "edge")]
    [InlineData("1host", "1host")]
    [InlineData("___", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void A_DNS_name_is_made_from_a_VM_or_container_name(string? name, string? expected) =>
        Assert.Equal(expected, NetworkNames.HostnameFrom(name));

    [Fact]
    public void A_long_name_is_cut_to_one_DNS_label_without_a_trailing_dash()
    {
        var hostname = NetworkNames.HostnameFrom(new string('a', 62) + "_b");

        Assert.Equal(new string('a', 62), hostname);
        Assert.True(NetworkNames.IsValidHostname(NetworkNames.HostnameFrom(new string('x', 200))));
    }

    [Theory]
    [InlineData("lab", true)]
    [InlineData("a-b-c-d-e-f", true)]
    [InlineData("abcdefghijkl", false)]
    [InlineData("1lab", false)]
    [InlineData("Lab", false)]
    [InlineData(null, false)]
    public void Network_names_fit_the_bridge_name(string? name, bool valid) =>
        Assert.Equal(valid, NetworkNames.IsValidNetworkName(name));

    [Theory]
    [InlineData("web1", true)]
    [InlineData("-web", false)]
    [InlineData("web-", false)]
    [InlineData("Web", false)]
    [InlineData("a.b", false)]
    public void Hostnames_are_one_lower_case_label(string name, bool valid) =>
        Assert.Equal(valid, NetworkNames.IsValidHostname(name));
}
