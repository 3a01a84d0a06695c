using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Processes;

namespace Virt.Network.Manager;

/// <summary>The real host layers behind the manager's seams: rtnetlink, nftables, dnsmasq and the input validators.</summary>
internal static class HostSeams
{
    public static (ILinkHost Links, IFirewallHost Firewall, IDhcpHost Dhcp, INetworkValidation Validation) Create(NetworkOptions options, IFileSystem fileSystem, IProcessRunner processes, ILogger logger)
    {
        return (new Netlink.NetlinkLinkHost(options), new Firewall.NftablesFirewallHost(options), new Dhcp.DnsmasqHost(options, fileSystem, processes, logger), new ValidatorSeam());
    }

    /// <summary>The package's validators behind <see cref="INetworkValidation"/>.</summary>
    private sealed class ValidatorSeam : INetworkValidation
    {
        public IReadOnlyList<(string Field, string Message)> ValidateDefinition(Virt.Networking.NetworkDefinition definition, IReadOnlyList<Virt.Networking.NetworkDefinition> others, int? underlayMtu) =>
            [.. Validation.NetworkDefinitionValidator.Validate(definition, others, underlayMtu).Select(p => (p.Field, p.Message))];

        public IReadOnlyList<(string Field, string Message)> ValidateSecurityGroup(Virt.Networking.SecurityGroup group) =>
            [.. Validation.FirewallRuleValidator.Validate(group).Select(p => (p.Field, p.Message))];

        public IReadOnlyList<(string Field, string Message)> ValidatePort(Virt.Networking.NetworkPortRequest request, Virt.Networking.NetworkDefinition network, IReadOnlyList<Virt.Networking.NetworkPort> existingPorts) =>
            [.. Validation.NetworkPortValidator.Validate(request, network, existingPorts).Select(p => (p.Field, p.Message))];
    }
}
