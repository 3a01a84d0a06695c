using Virt.Panel.Security;

namespace Virt.Panel.Tests.Security;

/// <summary>Host filtering must never fall open: an empty AllowedHosts list means "*" to ASP.NET Core.</summary>
public sealed class PanelHostsTests
{
    [Theory]
    [InlineData(";")]
    [InlineData(" , ")]
    [InlineData(";;,")]
    [InlineData("*")]
    [InlineData("panel.example.org;*.example.org")]
    public void A_host_list_naming_no_host_or_a_wildcard_is_refused_at_start(string configured)
    {
        var error = Assert.Throws<InvalidOperationException>(() => PanelHosts.From(configured, "http://127.0.0.1:8006"));
        Assert.Contains("Panel:Hosts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Listed_hosts_are_the_only_ones_and_the_default_is_the_listen_address_and_loopback()
    {
        Assert.Equal(["192.0.2.10", "panel.example.org"], PanelHosts.From("panel.example.org; 192.0.2.10", "http://127.0.0.1:8006").Names.Order(StringComparer.Ordinal));
        Assert.Contains("127.0.0.1", PanelHosts.From(null, "http://127.0.0.1:8006").Names);
        Assert.DoesNotContain("*", PanelHosts.From(null, "http://127.0.0.1:8006").Names);
    }
}
