using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Virt.Networking;

namespace Virt.Network.Definitions;

/// <summary>
/// The network package's state files as JSON (source-generated, AOT-safe): network definitions (one object whose
/// "Kind" field says which definition record it is), security groups, port records and the apply journal.
/// </summary>
internal static class NetworkJson
{
    // The definitions' polymorphism is Abstractions' (NetworkDefinitionJson, shared with the cluster's definitions).
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        AllowOutOfOrderMetadataProperties = true,
        TypeInfoResolver = NetworkJsonContext.Default.WithAddedModifier(NetworkDefinitionJson.AddPolymorphism),
    };

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, TypeInfo<T>());

    public static T Deserialize<T>(byte[] json, string what, string file)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(json, TypeInfo<T>())
                ?? throw new NetworkException($"{what} ({file}) is empty: delete the file and define it again");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new NetworkException($"{what} ({file}) cannot be read ({e.Message}): delete the file and define it again", e);
        }
    }

    private static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
}

/// <summary>Source-generated JSON for the network package's state files (AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(NetworkDefinition))]
[JsonSerializable(typeof(IsolatedNetworkDefinition))]
[JsonSerializable(typeof(NatNetworkDefinition))]
[JsonSerializable(typeof(RoutedNetworkDefinition))]
[JsonSerializable(typeof(VlanNetworkDefinition))]
[JsonSerializable(typeof(VxlanNetworkDefinition))]
[JsonSerializable(typeof(SecurityGroup))]
[JsonSerializable(typeof(PortRecord))]
[JsonSerializable(typeof(Journal.ApplyJournal))]
internal sealed partial class NetworkJsonContext : JsonSerializerContext;
