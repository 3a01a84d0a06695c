using Virt.Lxc.Config;

namespace Virt.Lxc.Tests.Config;

/// <summary>The SDK-owned LXC config: every value stays one entry, only managed keys are written.</summary>
public sealed class LxcConfigTests
{
    [Fact]
    public void Entries_serialize_in_order_and_parse_back_unchanged()
    {
        var config = new LxcConfig()
            .Add("lxc.uts.name", "web-1")
            .Add("lxc.rootfs.path", "dir:/var/lib/lxc/web-1/rootfs")
            .Add("lxc.net.0.type", "veth")
            .Add("lxc.net.0.link", "vbr0")
            .Add("lxc.mount.entry", "/srv/data srv/data none bind,ro,create=dir 0 0")
            .Add("lxc.mount.entry", "tmpfs tmp tmpfs size=64m 0 0")
            .Add("lxc.cgroup.memory.limit_in_bytes", "268435456");

        var text = config.Serialize();
        var back = LxcConfig.Parse(text);

        Assert.Equal(config.Entries, back.Entries);
        Assert.Equal(["/srv/data srv/data none bind,ro,create=dir 0 0", "tmpfs tmp tmpfs size=64m 0 0"], back.Get("lxc.mount.entry"));
        Assert.Contains("lxc.net.0.link = vbr0\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("web\nlxc.hook.pre-start = /bin/false", "line break")]
    [InlineData("web\rx", "line break")]
    [InlineData("web\0x", "line break")]
    [InlineData(" web", "whitespace")]
    [InlineData("web ", "whitespace")]
    [InlineData("\"web\"", "quotes")]
    [InlineData("'web'", "quotes")]
    public void A_value_that_LXC_would_split_trim_or_unquote_is_refused(string value, string rule)
    {
        var config = new LxcConfig();

        var error = Assert.Throws<LxcConfigException>(() => config.Add("lxc.uts.name", value));

        Assert.Contains(rule, error.Message, StringComparison.Ordinal);
        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Equal("lxc.uts.name", error.Key);
        Assert.Empty(config.Entries);
    }

    [Theory]
    [InlineData("lxc.hook.pre-start")]
    [InlineData("lxc.hook.start")]
    [InlineData("lxc.include")]
    [InlineData("lxc.net.")]
    [InlineData("lxc.UTS.name")]
    [InlineData("other.key")]
    [InlineData("lxc.uts.name\nlxc.include")]
    public void Keys_outside_the_managed_families_are_refused(string key)
    {
        Assert.Throws<LxcConfigException>(() => new LxcConfig().Add(key, "x"));
    }

    [Fact]
    public void A_file_with_an_injected_line_does_not_parse()
    {
        var error = Assert.Throws<LxcConfigException>(() => LxcConfig.Parse("lxc.uts.name = web\nlxc.hook.pre-start = /bin/false\n"));

        Assert.Equal("lxc.hook.pre-start", error.Key);
    }
}
