using System.Security.Cryptography;
using System.Text;
using Virt.Samples.HostToHost;

namespace Virt.Panel.HostToHost;

/// <summary>
/// The token the hosts of a set share to hand VMs to each other: from <c>Panel:HostTokenFile</c> (a file, 0600) or
/// the environment (<see cref="HostToHostApi.TokenEnvironmentVariable"/>). Without one the panel neither receives
/// VMs nor sends them to other hosts. Checked in constant time against its hash; the token itself is kept only to
/// send to other panels, and never logged.
/// </summary>
internal sealed class HostToHostAuth
{
    /// <summary>Shorter tokens are refused at start: the endpoint is reachable from the link between hosts.</summary>
    public const int MinimumLength = 32;

    private readonly byte[]? _tokenHash;
    private readonly string? _token;

    private HostToHostAuth(string? token)
    {
        _token = token;
        _tokenHash = token is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    public bool IsConfigured => _tokenHash is not null;

    /// <summary>The token, to send to another panel.</summary>
    public string Token => _token ?? throw new InvalidOperationException($"no host-to-host token is configured: write one (at least {MinimumLength} characters, the same on every host) to a file and set Panel:HostTokenFile, or set {HostToHostApi.TokenEnvironmentVariable}");

    public static HostToHostAuth Create(string? tokenFile, ILogger logger)
    {
        if (tokenFile is { Length: > 0 })
        {
            return new HostToHostAuth(Checked(ReadTokenFile(tokenFile, logger), $"Panel:HostTokenFile '{tokenFile}'"));
        }

        return Environment.GetEnvironmentVariable(HostToHostApi.TokenEnvironmentVariable) is { Length: > 0 } fromEnvironment
            ? new HostToHostAuth(Checked(fromEnvironment, HostToHostApi.TokenEnvironmentVariable))
            : new HostToHostAuth(null);
    }

    private static string ReadTokenFile(string path, ILogger logger)
    {
        if (File.Exists(path) && HostToHostApi.OthersMayRead(path))
        {
            logger.LogWarning("Virt.Panel: the host-to-host token file {Path} is readable by other users; make it 0600 (chmod 600 {Path})", path, path);
        }

        return HostToHostApi.ReadTokenFile(path);
    }

    public bool Verify(string? token) =>
        _tokenHash is not null && token is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), _tokenHash);

    private static string Checked(string token, string source) =>
        token.Length >= MinimumLength
            ? token
            : throw new InvalidOperationException($"the host-to-host token from {source} has {token.Length} characters: give at least {MinimumLength} (e.g. openssl rand -hex 32), the same on every host");
}
