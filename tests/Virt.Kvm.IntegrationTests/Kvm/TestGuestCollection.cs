namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Guests under TCG each take a core: boot them one at a time, not in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TestGuestCollection
{
    public const string Name = "test guest boots";
}
