using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Virt.VirtualMachines;

namespace Virt.Kvm.GuestAgent;

/// <summary>Source-generated JSON metadata for the guest-agent client.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.KebabCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(GuestAgentInfo))]
[JsonSerializable(typeof(GuestOsInfo))]
[JsonSerializable(typeof(SyncArguments))]
[JsonSerializable(typeof(ExecArguments))]
[JsonSerializable(typeof(ExecStarted))]
[JsonSerializable(typeof(PidArguments))]
[JsonSerializable(typeof(ExecStatus))]
[JsonSerializable(typeof(ShutdownArguments))]
[JsonSerializable(typeof(FileOpenArguments))]
[JsonSerializable(typeof(HandleArguments))]
[JsonSerializable(typeof(FileReadArguments))]
[JsonSerializable(typeof(FileReadResult))]
[JsonSerializable(typeof(FileWriteArguments))]
[JsonSerializable(typeof(FileWriteResult))]
[JsonSerializable(typeof(NetworkInterfaceWire[]))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(string))]
internal sealed partial class GuestAgentJsonContext : JsonSerializerContext;
