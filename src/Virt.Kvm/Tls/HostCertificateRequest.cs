using System.Net;
using Virt.Hosting;

namespace Virt.Kvm.Tls;

/// <summary>
/// What a host's certificate says: its name (the common name, checked by the other host) and the other names and
/// addresses it is reached by (subject alternative names, checked against the address a TLS client dials).
/// </summary>
public sealed record HostCertificateRequest
{
    /// <summary>Creates a request for the host's certificate.</summary>
    /// <param name="host">The host: its name is the certificate's common name and its first DNS name.</param>
    public HostCertificateRequest(VirtHostIdentity host)
    {
        ArgumentNullException.ThrowIfNull(host);
        Host = host;
    }

    /// <summary>The host the certificate is for.</summary>
    public VirtHostIdentity Host { get; }

    /// <summary>
    /// More names (DNS) and addresses (IPv4 or IPv6) the host is reached by, e.g. the address of the link between the
    /// hosts. The host's own name is always included.
    /// </summary>
    public IReadOnlyList<string> Addresses { get; init; } = [];

    /// <summary>How long the certificate is valid. Default one year; renew it by issuing again.</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromDays(365);

    /// <summary>Checks the names and the lifetime, once, before anything is signed.</summary>
    internal void Validate()
    {
        if (Lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"the certificate of host '{Host.Name}' needs a positive lifetime, not {Lifetime}", nameof(Lifetime));
        }

        foreach (var address in Addresses)
        {
            if (!IPAddress.TryParse(address, out _) && Uri.CheckHostName(address) != UriHostNameType.Dns)
            {
                throw new ArgumentException($"'{address}' is neither an IP address nor a DNS name: give the addresses host '{Host.Name}' is reached by (e.g. 192.0.2.10 or host-a.example)", nameof(Addresses));
            }
        }
    }
}
