using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Virt.Containers;
using Virt.Hosting;
using Virt.Lxc.Hosting;

namespace Virt.Lxc.Tests.Containers;

/// <summary>LxcOptions go through Microsoft.Extensions.Options: configured by delegate or configuration, validated once.</summary>
public sealed class LxcOptionsTests
{
    [Fact]
    public void Options_bind_from_configuration_and_the_AddLxc_delegate_still_works()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Virt:Lxc:LxcPath"] = "/srv/lxc",
            ["Virt:Lxc:LimitEnforcement"] = "Warn",
        }).Build();
        var services = new ServiceCollection();
        services.AddVirt().AddLxc(lxc => lxc.IdMapBase = 200000);
        services.AddOptions<LxcOptions>().Configure(lxc => configuration.GetSection("Virt:Lxc").Bind(lxc));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<LxcOptions>();

        Assert.Equal("/srv/lxc", options.LxcPath);
        Assert.Equal(LxcLimitEnforcement.Warn, options.LimitEnforcement);
        Assert.Equal(200000, options.IdMapBase);
        Assert.NotNull(provider.GetRequiredService<IContainerManager>());
    }

    [Fact]
    public void An_LXC_path_too_long_for_the_command_socket_fails_validation_naming_the_fix()
    {
        var services = new ServiceCollection();
        services.AddVirt().AddLxc(lxc =>
        {
            lxc.LxcPath = "/" + new string('a', 80);
            lxc.CommandSocketTimeout = TimeSpan.Zero;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(provider.GetRequiredService<IContainerManager>);

        Assert.Contains("LXC names each container's command socket after it", error.Message, StringComparison.Ordinal);
        Assert.Contains("LxcOptions.CommandSocketTimeout", error.Message, StringComparison.Ordinal);
    }
}
