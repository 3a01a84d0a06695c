namespace Virt.Passthrough.Tests;

/// <summary>PCI addresses are parsed strictly, so one can be a sysfs path component safely.</summary>
public sealed class PciAddressTests
{
    [Theory]
    [InlineData("0000:01:00.0", 0, 1, 0, 0)]
    [InlineData("0000:00:1f.7", 0, 0, 0x1f, 7)]
    [InlineData("10DE:AB:1F.3", 0x10de, 0xab, 0x1f, 3)]
    public void A_full_address_is_read_and_written_back_in_lower_case(string text, int domain, int bus, int slot, int function)
    {
        var address = PciAddress.Parse(text);
        Assert.Equal(new PciAddress(domain, bus, slot, function), address);
        Assert.Equal(text.ToLowerInvariant(), address.ToString());
    }

    [Theory]
    [InlineData("01:00.0")]
    [InlineData("0000:01:00")]
    [InlineData("0000:01:20.0")]
    [InlineData("0000:01:00.8")]
    [InlineData("0000:0g:00.0")]
    [InlineData("0000:01:00.0\n")]
    [InlineData("0000/01:00.0")]
    [InlineData("../../../etc")]
    [InlineData("+000:01:00.0")]
    [InlineData("")]
    public void Anything_else_is_refused_with_the_expected_shape(string text)
    {
        Assert.False(PciAddress.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => PciAddress.Parse(text));
        Assert.Contains("DDDD:BB:SS.F", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sibling_functions_share_the_slot() => Assert.Equal("0000:01:00.1", PciAddress.Parse("0000:01:00.0").WithFunction(1).ToString());
}
