namespace Virt.Kvm.Tls;

/// <summary>What a checked host TLS directory holds (<see cref="HostTlsDirectory.LoadAsync"/>).</summary>
/// <param name="Directory">The directory, as given: what <c>tls-creds-x509,dir=</c> names.</param>
/// <param name="HostName">The common name of the host's certificate: the name the other host checks.</param>
/// <param name="CaSubject">The subject of the CA that signed it.</param>
/// <param name="NotAfter">When the first of the certificates (the CA's or the host's) stops being valid.</param>
/// <param name="Names">The DNS names and IP addresses the host's certificate is valid for.</param>
public sealed record HostTlsMaterial(string Directory, string HostName, string CaSubject, DateTimeOffset NotAfter, IReadOnlyList<string> Names);
