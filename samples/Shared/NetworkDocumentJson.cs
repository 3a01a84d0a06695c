using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Virt.Networking;

namespace Virt.Samples.Networking;

/// <summary>
/// Network definitions and security groups as people write them for the panel's API and virtctl's files: camelCase JSON
/// whose <c>"kind"</c> (isolated, nat, routed, vlan, vxlan) says which definition it is. A malformed document is an
/// <see cref="VirtErrorKind.InvalidInput"/> error naming the field; the values themselves are checked by the manager.
/// Shared by the panel and virtctl (linked into both) so both read the same format.
/// </summary>
internal static class NetworkDocumentJson
{
    private const string Discriminator = "kind";

    /// <summary>Resolves camelCase contracts with <c>"kind"</c> as the definitions' discriminator; for other options that write definitions too.</summary>
    public static IJsonTypeInfoResolver Resolver { get; } = new DefaultJsonTypeInfoResolver { Modifiers = { UseKindAsDiscriminator } };

    /// <summary>How the samples read and write these documents: camelCase, enums as strings, <c>"kind"</c> as the discriminator.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        AllowOutOfOrderMetadataProperties = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        TypeInfoResolver = Resolver,
    };

    public static async Task<NetworkDefinition> ReadDefinitionAsync(Stream json, string source, CancellationToken cancellationToken) =>
        await ReadAsync<NetworkDefinition>(json, "network definition", source, cancellationToken);

    public static async Task<SecurityGroup> ReadSecurityGroupAsync(Stream json, string source, CancellationToken cancellationToken) =>
        await ReadAsync<SecurityGroup>(json, "security group", source, cancellationToken);

    private static async Task<T> ReadAsync<T>(Stream json, string what, string source, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(json, Options, cancellationToken)
                ?? throw new NetworkException(VirtErrorKind.InvalidInput, $"the {what} in {source} is null: give a JSON object");
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "the document" : $"field '{e.Path}'";
            throw new NetworkException(VirtErrorKind.InvalidInput, $"the {what} in {source} is not valid at {field}: {e.Message} {Example<T>()}", e);
        }
        catch (NotSupportedException e)
        {
            // An abstract definition without its discriminator: System.Text.Json cannot tell which record to make.
            throw new NetworkException(VirtErrorKind.InvalidInput, $"the {what} in {source} has no field '{Discriminator}' (or it comes too late): {e.Message} {Example<T>()}", e);
        }
    }

    private static string Example<T>() => typeof(T) == typeof(SecurityGroup)
        ? "Write e.g. {\"name\":\"web\",\"rules\":[{\"direction\":\"In\",\"action\":\"Accept\",\"protocol\":\"Tcp\",\"destinationPorts\":[\"80\"]}]}."
        : "Write e.g. {\"kind\":\"nat\",\"name\":\"lab\",\"ipv4\":{\"cidr\":\"192.0.2.0/24\",\"gateway\":\"192.0.2.1\",\"dhcpStart\":\"192.0.2.100\",\"dhcpEnd\":\"192.0.2.200\"}}; kind is isolated, nat, routed, vlan or vxlan.";

    private static void UseKindAsDiscriminator(JsonTypeInfo typeInfo)
    {
        if (!typeof(NetworkDefinition).IsAssignableFrom(typeInfo.Type))
        {
            return;
        }

        // "kind" is the discriminator (written by the serializer, not the Kind property); the effective bridge is computed.
        foreach (var computed in typeInfo.Properties.Where(p => p.Name is Discriminator or "effectiveBridgeName").ToList())
        {
            typeInfo.Properties.Remove(computed);
        }

        if (typeInfo.Type == typeof(NetworkDefinition))
        {
            typeInfo.PolymorphismOptions = new JsonPolymorphismOptions
            {
                TypeDiscriminatorPropertyName = Discriminator,
                UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization,
                DerivedTypes =
                {
                    new JsonDerivedType(typeof(IsolatedNetworkDefinition), "isolated"),
                    new JsonDerivedType(typeof(NatNetworkDefinition), "nat"),
                    new JsonDerivedType(typeof(RoutedNetworkDefinition), "routed"),
                    new JsonDerivedType(typeof(VlanNetworkDefinition), "vlan"),
                    new JsonDerivedType(typeof(VxlanNetworkDefinition), "vxlan"),
                },
            };
        }
    }
}
