using System.Text.Json.Serialization;
using Virt.VirtualMachines;

namespace Virt.Cluster.Store;

/// <summary>VM specs as the HA agent stores them among the shared definitions (the same form as a VM's spec.json), and migration tickets.</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VmSpec))]
[JsonSerializable(typeof(MigrationTicket))]
internal sealed partial class ClusterSpecJson : JsonSerializerContext;
