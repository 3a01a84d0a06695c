using Virt.Networking;

namespace Virt.Network.Manager;

/// <summary>
/// The input checks the manager runs before it records anything: each returns the problems found, as the field at
/// fault and what is wrong with it (empty when the input is good). A definition is checked against the others and, for a
/// VXLAN network, the MTU of its underlay interface as the host has it; a port against the recorded ports of every network. The package's validators implement it (see
/// <see cref="HostSeams"/>); unit tests give their own.
/// </summary>
internal interface INetworkValidation
{
    IReadOnlyList<(string Field, string Message)> ValidateDefinition(NetworkDefinition definition, IReadOnlyList<NetworkDefinition> others, int? underlayMtu);

    IReadOnlyList<(string Field, string Message)> ValidateSecurityGroup(SecurityGroup group);

    IReadOnlyList<(string Field, string Message)> ValidatePort(NetworkPortRequest request, NetworkDefinition network, IReadOnlyList<NetworkPort> existingPorts);
}
