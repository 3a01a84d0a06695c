using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>The validators' seam: no problems unless a test sets some.</summary>
internal sealed class FakeValidation : INetworkValidation
{
    public List<(string Field, string Message)> DefinitionProblems { get; } = [];

    public List<(string Field, string Message)> PortProblems { get; } = [];

    public List<int?> UnderlayMtus { get; } = [];

    public IReadOnlyList<NetworkPort> SeenPorts { get; private set; } = [];

    public IReadOnlyList<(string Field, string Message)> ValidateDefinition(NetworkDefinition definition, IReadOnlyList<NetworkDefinition> others, int? underlayMtu)
    {
        UnderlayMtus.Add(underlayMtu);
        return DefinitionProblems;
    }

    public IReadOnlyList<(string Field, string Message)> ValidateSecurityGroup(SecurityGroup group) => [];

    public IReadOnlyList<(string Field, string Message)> ValidatePort(NetworkPortRequest request, NetworkDefinition network, IReadOnlyList<NetworkPort> existingPorts)
    {
        SeenPorts = existingPorts;
        return PortProblems;
    }
}
