using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;
using Virt.Tests.Contracts;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>The container manager contract against real LXC with a busybox container, the same one the in-memory double passes.</summary>
public sealed class LxcContractTests : ContainerManagerContract, IAsyncDisposable
{
    private readonly LxcTestHost _host = LxcTestHost.Create();

    protected override IContainerManager Manager => _host.Manager;

    protected override ContainerSpec Spec(string name) => LxcTestHost.Busybox(name);

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
