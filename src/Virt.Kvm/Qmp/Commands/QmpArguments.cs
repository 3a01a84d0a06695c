namespace Virt.Kvm.Qmp;

/// <summary>Argument shapes of the hand-written typed commands (wire names in kebab case).</summary>
internal sealed record IdArguments(string Id);

internal sealed record NodeNameArguments(string NodeName);

internal sealed record HumanMonitorArguments(string CommandLine, int? CpuIndex);

internal sealed record FdNameArguments(string Fdname);

internal sealed record AddFdArguments(int? FdsetId, string? Opaque);

internal sealed record RemoveFdArguments(int FdsetId, int? Fd);

internal sealed record GreetingPayload(GreetingVersion? Version, string[]? Capabilities);

internal sealed record GreetingVersion(QmpVersionTriple? Qemu, string? Package);
