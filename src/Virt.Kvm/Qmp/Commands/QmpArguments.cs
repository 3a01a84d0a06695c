namespace Virt.Kvm.Qmp;

/// <summary>The greeting QEMU sends on connect, as read off the wire.</summary>
internal sealed record GreetingPayload(GreetingVersion? Version, string[]? Capabilities);

internal sealed record GreetingVersion(QmpVersionTriple? Qemu, string? Package);

/// <summary>A version triple as it appears on the wire in the greeting.</summary>
internal sealed record QmpVersionTriple(int Major, int Minor, int Micro);
