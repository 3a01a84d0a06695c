using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Networking;

/// <summary>
/// A network definition as JSON: one object whose <c>Kind</c> field says which definition record it is (<c>isolated</c>,
/// <c>nat</c>, <c>routed</c>, <c>vlan</c>, <c>vxlan</c>). The form the network backend keeps its definitions in, and the
/// one a cluster shares them in.
/// </summary>
public static class NetworkDefinitionJson
{
    private const string Discriminator = "Kind";

    private static readonly JsonSerializerOptions Options = new()
    {
        AllowOutOfOrderMetadataProperties = true,
        TypeInfoResolver = NetworkDefinitionJsonContext.Default.WithAddedModifier(AddPolymorphism),
    };

    /// <summary>The definition as a JSON object.</summary>
    /// <param name="definition">The definition.</param>
    /// <returns>The JSON.</returns>
    public static string Serialize(NetworkDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return JsonSerializer.Serialize(definition, TypeInfo);
    }

    /// <summary>A definition from its JSON object.</summary>
    /// <param name="json">The JSON.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="ArgumentException">Not a network definition (unknown kind, a field of the wrong type, null).</exception>
    public static NetworkDefinition Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize(json, TypeInfo) ?? throw new ArgumentException("a network definition cannot be null JSON", nameof(json));
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new ArgumentException($"not a network definition ({e.Message}): an object with a Kind of isolated, nat, routed, vlan or vxlan", nameof(json), e);
        }
    }

    /// <summary>
    /// The resolver modifier that makes <c>Kind</c> the discriminator of <see cref="NetworkDefinition"/> and leaves out the
    /// computed <see cref="NetworkDefinition.EffectiveBridgeName"/>, for a host or backend that serializes definitions with
    /// its own options.
    /// </summary>
    /// <param name="typeInfo">The type being resolved.</param>
    public static void AddPolymorphism(JsonTypeInfo typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (!typeof(NetworkDefinition).IsAssignableFrom(typeInfo.Type))
        {
            return;
        }

        // Kind is the discriminator itself, and the effective bridge name is computed: neither is stored as a property.
        foreach (var computed in typeInfo.Properties.Where(p => p.Name is Discriminator or nameof(NetworkDefinition.EffectiveBridgeName)).ToList())
        {
            typeInfo.Properties.Remove(computed);
        }

        if (typeInfo.Type == typeof(NetworkDefinition))
        {
            typeInfo.PolymorphismOptions = new JsonPolymorphismOptions
            {
                TypeDiscriminatorPropertyName = Discriminator,
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

    private static JsonTypeInfo<NetworkDefinition> TypeInfo => (JsonTypeInfo<NetworkDefinition>)Options.GetTypeInfo(typeof(NetworkDefinition));
}

/// <summary>Source-generated JSON for network definitions (AOT-safe).</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(NetworkDefinition))]
[JsonSerializable(typeof(IsolatedNetworkDefinition))]
[JsonSerializable(typeof(NatNetworkDefinition))]
[JsonSerializable(typeof(RoutedNetworkDefinition))]
[JsonSerializable(typeof(VlanNetworkDefinition))]
[JsonSerializable(typeof(VxlanNetworkDefinition))]
internal sealed partial class NetworkDefinitionJsonContext : JsonSerializerContext;
