using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Tests.Contracts;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>The storage pool contract against a real dir pool (qemu-img on a directory), the same one the in-memory double passes.</summary>
public sealed class DirPoolContractTests : StoragePoolContract, IDisposable
{
    private readonly PoolFixture _fixture = PoolFixture.Create("dir");

    protected override IStoragePool Pool => _fixture.Pool;

    public void Dispose() => _fixture.Dispose();
}
