using Virt.Containers;
using Virt.Storage;
using Virt.Tests.Contracts;
using Virt.VirtualMachines;

namespace Virt.Testing.Tests;

/// <summary>The VM manager contract against the in-memory double.</summary>
public sealed class InMemoryVirtualMachineManagerContractTests : VirtualMachineManagerContract
{
    protected override IVirtualMachineManager Manager { get; } = new InMemoryVirtualMachineManager();

    protected override Task<VmSpec> SpecAsync(string name) => Task.FromResult(new VmSpec(name));
}

/// <summary>The storage pool contract against the in-memory double.</summary>
public sealed class InMemoryStoragePoolContractTests : StoragePoolContract
{
    protected override IStoragePool Pool { get; } = new InMemoryStoragePool("test");
}

/// <summary>The container manager contract against the in-memory double.</summary>
public sealed class InMemoryContainerManagerContractTests : ContainerManagerContract
{
    protected override IContainerManager Manager { get; } = new InMemoryContainerManager();
}
