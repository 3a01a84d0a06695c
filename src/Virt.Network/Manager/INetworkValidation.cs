using Virt.Networking;

namespace Virt.Network.Manager;

/// <summary>
/// The input checks the manager runs before it records anything: each returns the problems found, as the field at
/// fault and what is wrong with it (empty when the input is good). The package's validators implement it (see
/// <see cref="HostSeams"/>); unit tests give their own.
/// </summary>
internal interface INetworkValidation
{
    IReadOnlyList<(string Field, string Message)> ValidateDefinition(NetworkDefinition definition, IReadOnlyList<NetworkDefinition> others);

    IReadOnlyList<(string Field, string Message)> ValidateSecurityGroup(SecurityGroup group);

    IReadOnlyList<(string Field, string Message)> ValidatePort(NetworkPortRequest request, NetworkDefinition network, IReadOnlyList<NetworkPortRequest> existingPorts);
}
