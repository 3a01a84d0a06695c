using Virt.Networking;

namespace Virt.Network.Definitions;

/// <summary>
/// Everything the state directory holds, read at once: the definitions, the definitions as last applied to the host,
/// the security groups and the ports. The planner works from one such snapshot.
/// </summary>
internal sealed record NetworkState(
    IReadOnlyDictionary<string, NetworkDefinition> Definitions,
    IReadOnlyDictionary<string, NetworkDefinition> Applied,
    IReadOnlyDictionary<string, SecurityGroup> Groups,
    IReadOnlyList<PortRecord> Ports)
{
    public IEnumerable<PortRecord> PortsOf(string network) => Ports.Where(p => p.Request.Network == network);

    /// <summary>The state with <paramref name="definition"/> as applied, for planning what an apply puts in force.</summary>
    public NetworkState WithApplied(NetworkDefinition definition)
    {
        var applied = new Dictionary<string, NetworkDefinition>(Applied, StringComparer.Ordinal) { [definition.Name] = definition };
        return this with { Applied = applied };
    }

    /// <summary>The state without network <paramref name="name"/> applied (its teardown).</summary>
    public NetworkState WithoutApplied(string name)
    {
        var applied = new Dictionary<string, NetworkDefinition>(Applied, StringComparer.Ordinal);
        applied.Remove(name);
        return this with { Applied = applied };
    }

    public NetworkState WithPort(PortRecord port) =>
        this with { Ports = [.. Ports.Where(p => !SamePort(p, port.Request.Owner, port.Request.NicId)), port] };

    /// <summary>The state with each of <paramref name="ports"/> recorded (replacing a record of the same owner and NIC); one pass, for batches.</summary>
    public NetworkState WithPorts(IReadOnlyCollection<PortRecord> ports)
    {
        var replaced = ports.Select(p => Key(p.Request.Owner, p.Request.NicId)).ToHashSet(StringComparer.Ordinal);
        return this with { Ports = [.. Ports.Where(p => !replaced.Contains(Key(p.Request.Owner, p.Request.NicId))), .. ports] };
    }

    public NetworkState WithoutPorts(IEnumerable<PortRecord> ports)
    {
        var gone = ports.ToList();
        return this with { Ports = [.. Ports.Where(p => !gone.Any(g => SamePort(p, g.Request.Owner, g.Request.NicId)))] };
    }

    public static bool SamePort(PortRecord port, string owner, string nicId) =>
        port.Request.Owner == owner && port.Request.NicId == nicId;

    /// <summary>A port's key in lookups: owner and NIC id, which are safe names and so never contain the separator.</summary>
    public static string Key(string owner, string nicId) => owner + "/" + nicId;
}
