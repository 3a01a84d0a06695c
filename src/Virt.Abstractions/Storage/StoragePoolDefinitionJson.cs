using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Storage;

/// <summary>
/// A pool definition as JSON: one object whose <c>Driver</c> field says which definition record it is (<c>dir</c>,
/// <c>btrfs</c>, <c>rbd</c>). The form the storage backend keeps its definitions in, and the one a cluster shares them in.
/// </summary>
public static class StoragePoolDefinitionJson
{
    private const string Discriminator = "Driver";

    private static readonly JsonSerializerOptions Options = new()
    {
        AllowOutOfOrderMetadataProperties = true,
        TypeInfoResolver = PoolDefinitionJsonContext.Default.WithAddedModifier(AddPolymorphism),
    };

    /// <summary>The definition as a JSON object.</summary>
    /// <param name="definition">The definition.</param>
    /// <returns>The JSON.</returns>
    public static string Serialize(StoragePoolDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return JsonSerializer.Serialize(definition, TypeInfo);
    }

    /// <summary>A definition from its JSON object.</summary>
    /// <param name="json">The JSON.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="ArgumentException">Not a pool definition (unknown driver, a field of the wrong type, null).</exception>
    public static StoragePoolDefinition Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize(json, TypeInfo) ?? throw new ArgumentException("a pool definition cannot be null JSON", nameof(json));
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new ArgumentException($"not a pool definition ({e.Message}): an object with a Driver of dir, btrfs or rbd", nameof(json), e);
        }
    }

    /// <summary>
    /// The resolver modifier that makes <c>Driver</c> the discriminator of <see cref="StoragePoolDefinition"/>, for a host or
    /// backend that serializes definitions with its own options. It is declared here rather than as attributes on the
    /// records, so that a host serializing them with plain options still writes <c>Driver</c> as a property.
    /// </summary>
    /// <param name="typeInfo">The type being resolved.</param>
    public static void AddPolymorphism(JsonTypeInfo typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (!typeof(StoragePoolDefinition).IsAssignableFrom(typeInfo.Type))
        {
            return;
        }

        // Driver is the discriminator itself: as a property as well it would be written twice.
        foreach (var driver in typeInfo.Properties.Where(property => property.Name == Discriminator).ToList())
        {
            typeInfo.Properties.Remove(driver);
        }

        if (typeInfo.Type == typeof(StoragePoolDefinition))
        {
            typeInfo.PolymorphismOptions = new JsonPolymorphismOptions
            {
                TypeDiscriminatorPropertyName = Discriminator,
                DerivedTypes =
                {
                    new JsonDerivedType(typeof(DirPoolDefinition), "dir"),
                    new JsonDerivedType(typeof(BtrfsPoolDefinition), "btrfs"),
                    new JsonDerivedType(typeof(RbdPoolDefinition), "rbd"),
                },
            };
        }
    }

    private static JsonTypeInfo<StoragePoolDefinition> TypeInfo => (JsonTypeInfo<StoragePoolDefinition>)Options.GetTypeInfo(typeof(StoragePoolDefinition));
}

/// <summary>Source-generated JSON for pool definitions (AOT-safe).</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(StoragePoolDefinition))]
[JsonSerializable(typeof(DirPoolDefinition))]
[JsonSerializable(typeof(BtrfsPoolDefinition))]
[JsonSerializable(typeof(RbdPoolDefinition))]
internal sealed partial class PoolDefinitionJsonContext : JsonSerializerContext;
