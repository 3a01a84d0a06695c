using System.Text.Json.Serialization;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Source-generated JSON for the state directory: specs and runtime records.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VmSpec))]
[JsonSerializable(typeof(VmRuntimeRecord))]
[JsonSerializable(typeof(IncomingRecord))]
[JsonSerializable(typeof(MigratedAwayRecord))]
internal sealed partial class KvmJsonContext : JsonSerializerContext;
