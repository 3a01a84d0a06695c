using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using Virt.Hosting;
using Virt.Processes;

namespace Virt.Abstractions.Tests;

public sealed class AddVirtTests
{
    [Fact]
    public void AddVirt_registers_the_host_seams()
    {
        var services = new ServiceCollection();

        var builder = services.AddVirt();
        using var provider = services.BuildServiceProvider();

        Assert.Same(services, builder.Services);
        Assert.IsType<FileSystem>(provider.GetRequiredService<IFileSystem>());
        Assert.IsType<ProcessRunner>(provider.GetRequiredService<IProcessRunner>());
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void A_host_can_register_its_own_seams_first()
    {
        var services = new ServiceCollection();
        var runner = Mock.Of<IProcessRunner>();
        services.AddSingleton(runner);

        services.AddVirt();
        using var provider = services.BuildServiceProvider();

        Assert.Same(runner, provider.GetRequiredService<IProcessRunner>());
    }
}
