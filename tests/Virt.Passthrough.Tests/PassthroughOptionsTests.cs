using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Virt.Hosting;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Tests;

/// <summary>PassthroughOptions go through Microsoft.Extensions.Options: configured by delegate or configuration, validated once.</summary>
public sealed class PassthroughOptionsTests
{
    [Fact]
    public void Options_bind_from_configuration_and_the_AddPassthrough_delegate_still_works()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Virt:Passthrough:StateDirectory"] = "/srv/virt/passthrough",
            ["Virt:Passthrough:ProbeTimeout"] = "00:00:02",
        }).Build();
        var services = new ServiceCollection();
        services.AddVirt().AddPassthrough(passthrough => passthrough.SysfsRoot = "/tmp/fake-sys");
        services.AddOptions<PassthroughOptions>().Configure(passthrough => configuration.GetSection("Virt:Passthrough").Bind(passthrough));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<PassthroughOptions>();

        Assert.Equal("/srv/virt/passthrough", options.StateDirectory);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ProbeTimeout);
        Assert.Equal("/tmp/fake-sys", options.SysfsRoot);
        Assert.NotNull(provider.GetRequiredService<IPassthroughManager>());
    }

    [Fact]
    public void Relative_roots_and_zero_deadlines_fail_validation_naming_each_option()
    {
        var services = new ServiceCollection();
        services.AddVirt().AddPassthrough(passthrough =>
        {
            passthrough.SysfsRoot = "sys";
            passthrough.WriteTimeout = TimeSpan.Zero;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(provider.GetRequiredService<IPassthroughManager>);

        Assert.Contains("PassthroughOptions.SysfsRoot 'sys' must be an absolute path", error.Message, StringComparison.Ordinal);
        Assert.Contains("PassthroughOptions.WriteTimeout", error.Message, StringComparison.Ordinal);
    }
}
