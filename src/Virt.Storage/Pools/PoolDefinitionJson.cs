using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Storage.Pools;

/// <summary>
/// A pool definition on disk: one JSON object whose "Driver" field says which definition record it is
/// (System.Text.Json polymorphism, source-generated). "Driver" is the field the single record of earlier
/// versions wrote, so their files load unchanged; they wrote it second, after "Name", and carried null
/// fields of the other drivers, which are ignored.
/// </summary>
internal static class PoolDefinitionJson
{
    // The polymorphism is Abstractions' (StoragePoolDefinitionJson, shared with the cluster's definitions); these options
    // only add the indented layout of the state files.
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        AllowOutOfOrderMetadataProperties = true,
        Converters = { new JsonStringEnumConverter<StorageContent>() },
        TypeInfoResolver = StorageJsonContext.Default.WithAddedModifier(StoragePoolDefinitionJson.AddPolymorphism),
    };

    private static JsonTypeInfo<StoragePoolDefinition> TypeInfo => (JsonTypeInfo<StoragePoolDefinition>)Options.GetTypeInfo(typeof(StoragePoolDefinition));

    public static string Serialize(StoragePoolDefinition definition) => JsonSerializer.Serialize(definition, TypeInfo);

    public static StoragePoolDefinition Deserialize(byte[] json, string name, string file)
    {
        try
        {
            return JsonSerializer.Deserialize(json, TypeInfo)
                ?? throw new StorageException($"the definition of pool '{name}' ({file}) is empty: remove and define it again");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new StorageException($"the definition of pool '{name}' ({file}) cannot be read ({e.Message}): remove and define it again with a driver of dir, btrfs or rbd", e);
        }
    }
}

/// <summary>Source-generated JSON for pool definitions (AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(StoragePoolDefinition))]
[JsonSerializable(typeof(DirPoolDefinition))]
[JsonSerializable(typeof(BtrfsPoolDefinition))]
[JsonSerializable(typeof(RbdPoolDefinition))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
