using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>The validators' seam: no problems unless a test sets some.</summary>
internal sealed class FakeValidation : INetworkValidation
{
    public List<(string Field, string Message)> DefinitionProblems { get; } = [];

    public List<(string Field, string Message)> PortProblems { get; } = [];

    public IReadOnlyList<(string Field, string Message)> ValidateDefinition(NetworkDefinition definition, IReadOnlyList<NetworkDefinition> others) => DefinitionProblems;

    public IReadOnlyList<(string Field, string Message)> ValidateSecurityGroup(SecurityGroup group) => [];

    public IReadOnlyList<(string Field, string Message)> ValidatePort(NetworkPortRequest request, NetworkDefinition network, IReadOnlyList<NetworkPortRequest> existingPorts) => PortProblems;
}
