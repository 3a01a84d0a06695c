using Virt.Networking;

namespace Virt.Network.Definitions;

/// <summary>A port the SDK prepared on a network, as stored in <c>ports/OWNER/NIC.json</c>.</summary>
/// <param name="Request">What the backend asked for.</param>
/// <param name="Connected">Whether <see cref="INetworkPorts.ConnectAsync"/> has attached its host interface to the bridge.</param>
internal sealed record PortRecord(NetworkPortRequest Request, bool Connected)
{
    /// <summary>The ifalias that marks the port's host interface as the SDK's.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Alias => PortAlias(Request.Owner, Request.NicId);

    public static string PortAlias(string owner, string nicId) => $"virt:port:{owner}/{nicId}";
}
