namespace Virt.Panel;

/// <summary>
/// What the panel's users may ask for beyond the safe defaults, from the configuration: <c>Panel:AllowHostPaths</c>
/// (a VM disk that is a host file instead of a storage volume <c>pool:name</c>) and
/// <c>Panel:AllowPrivilegedContainers</c> (a container whose root is the host's root). Both off by default:
/// with them a panel user can read and write any host file. For migration between hosts: <c>Panel:HostTokenFile</c>
/// (the hosts' shared token; without it the host-to-host endpoints refuse everything), <c>Panel:TlsDirectory</c> (this
/// host's certificates in QEMU's layout, from <c>virtctl host tls issue</c>; null: the KVM backend's own) and
/// <c>Panel:MigrationAddress</c> (where this host receives migrations; default the address the source reached the panel on)
/// and <c>Panel:PeerHosts</c> (the other hosts' panels, e.g. <c>https://host-b:8006;https://host-c:8006</c>: the only
/// destinations migrate-to sends the hosts' token to, and the ones the browser's "Migrate to host" form offers).
/// </summary>
internal sealed record PanelOptions(bool AllowHostPaths, bool AllowPrivilegedContainers, string? HostTokenFile = null, string? TlsDirectory = null, string? MigrationAddress = null, IReadOnlyList<string>? PeerHosts = null)
{
    /// <summary>Request bodies larger than this are refused (413) everywhere; the API's requests are small JSON.</summary>
    public const long MaxRequestBody = 64 * 1024;

    /// <summary>Login bodies larger than this are refused (413).</summary>
    public const long MaxLoginBody = 4 * 1024;

    public static PanelOptions From(IConfiguration configuration) =>
        new(
            configuration.GetValue("Panel:AllowHostPaths", false),
            configuration.GetValue("Panel:AllowPrivilegedContainers", false),
            NullIfEmpty(configuration["Panel:HostTokenFile"]),
            NullIfEmpty(configuration["Panel:TlsDirectory"]),
            NullIfEmpty(configuration["Panel:MigrationAddress"]),
            (configuration["Panel:PeerHosts"] ?? string.Empty).Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Whether <paramref name="destination"/> is one of <see cref="PeerHosts"/> (same scheme, host and port; the path is not used).</summary>
    public bool IsPeer(Uri destination) =>
        (PeerHosts ?? []).Any(peer => Uri.TryCreate(peer, UriKind.Absolute, out var known)
            && Uri.Compare(known, destination, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
