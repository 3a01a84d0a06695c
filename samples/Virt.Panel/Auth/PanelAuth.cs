using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Virt.Panel.Auth;

/// <summary>
/// The panel's secret and sessions. The secret is a configured password — from <c>Panel:PasswordFile</c>, the
/// environment (<c>VIRT_PANEL_PASSWORD</c> or <c>Panel__Password</c>) or, with a warning because every local
/// user sees it in <c>ps</c>, <c>--Panel:Password</c> — or else a token generated at start and written to
/// <c>STATE/panel/token</c>, a file created 0600 in a directory created 0700; only the file's path is logged.
/// Logging in gives an HttpOnly, SameSite=Strict session cookie (<see cref="CookieName"/>); API clients may
/// send <c>Authorization: Bearer SECRET</c> instead. <see cref="PanelAuthenticationHandler"/> checks both on
/// every endpoint (the fallback authorization policy), not by path.
/// </summary>
internal sealed class PanelAuth
{
    /// <summary>The session cookie on plain HTTP (a loopback panel).</summary>
    public const string Cookie = "virt_session";

    /// <summary>The session cookie on HTTPS: the <c>__Host-</c> prefix makes the browser require Secure, Path=/ and no Domain.</summary>
    public const string SecureCookie = "__Host-virt_session";

    public const string CsrfHeader = "X-Virt-Panel";
    public const string PasswordEnvironmentVariable = "VIRT_PANEL_PASSWORD";
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _sessions = new(StringComparer.Ordinal);
    private readonly byte[] _secretHash;

    private PanelAuth(byte[] secret, string? tokenPath)
    {
        _secretHash = SHA256.HashData(secret);
        TokenPath = tokenPath;
    }

    /// <summary>Where the generated token was written, or null when a password is configured.</summary>
    public string? TokenPath { get; }

    public static TimeSpan SessionLifetime => TimeSpan.FromHours(12);

    /// <summary>The session cookie's name for this request: <see cref="SecureCookie"/> over HTTPS, <see cref="Cookie"/> over plain HTTP.</summary>
    public static string CookieName(HttpRequest request) => request.IsHttps ? SecureCookie : Cookie;

    /// <summary>The password from the configuration (file, environment, command line), or a generated token written to the state directory.</summary>
    public static PanelAuth Create(IConfiguration configuration, string stateDirectory, ILogger logger)
    {
        if (configuration["Panel:PasswordFile"] is { Length: > 0 } passwordFile)
        {
            return new PanelAuth(Encoding.UTF8.GetBytes(ReadPasswordFile(passwordFile, logger)), null);
        }

        var password = Environment.GetEnvironmentVariable(PasswordEnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : configuration["Panel:Password"];
        if (!string.IsNullOrEmpty(password))
        {
            if (configuration is IConfigurationRoot root && root.Providers.OfType<Microsoft.Extensions.Configuration.CommandLine.CommandLineConfigurationProvider>().Any(provider => provider.TryGet("Panel:Password", out _)))
            {
                logger.LogWarning("Virt.Panel: Panel:Password was given on the command line, where every local user can read it (ps, /proc/PID/cmdline); give it in a file (--Panel:PasswordFile=FILE, mode 0600) or in the environment ({Variable}) instead", PasswordEnvironmentVariable);
            }

            return new PanelAuth(Encoding.UTF8.GetBytes(password), null);
        }

        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        var path = WriteToken(stateDirectory, token);
        logger.LogWarning("Virt.Panel: no password configured (Panel:PasswordFile, {Variable} or Panel:Password); log in with the token in {Path} (readable by root only)", PasswordEnvironmentVariable, path);
        return new PanelAuth(Encoding.UTF8.GetBytes(token), path);
    }

    /// <summary>Writes the token to STATE/panel/token: the directory created 0700, the file created 0600 (never a wider mode, not even for a moment).</summary>
    private static string WriteToken(string stateDirectory, string token)
    {
        var directory = Path.Combine(stateDirectory, "panel");
        var created = !Directory.Exists(directory);
        Directory.CreateDirectory(directory, OwnerOnlyDirectory);
        if (!created && (File.GetUnixFileMode(directory) & ~OwnerOnlyDirectory) != 0)
        {
            // A directory left by an older panel: narrow it before a secret goes in.
            File.SetUnixFileMode(directory, OwnerOnlyDirectory);
        }

        var path = Path.Combine(directory, "token");

        // CreateNew (O_CREAT|O_EXCL) neither reuses a file with another mode nor follows a link planted at the path.
        File.Delete(path);
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = OwnerOnlyFile });
        stream.Write(Encoding.UTF8.GetBytes(token + "\n"));
        return path;
    }

    private static string ReadPasswordFile(string path, ILogger logger)
    {
        string text;
        try
        {
            if ((File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
            {
                logger.LogWarning("Virt.Panel: the password file {Path} is readable by other users; make it 0600 (chmod 600 {Path})", path, path);
            }

            text = File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read the panel password from Panel:PasswordFile '{path}': {exception.Message}; create it (mode 0600) with the password on one line", exception);
        }

        var password = text.TrimEnd('\r', '\n');
        return password.Length > 0 ? password : throw new InvalidOperationException($"the panel password file '{path}' (Panel:PasswordFile) is empty; write the password on one line");
    }

    public bool Verify(string? secret) =>
        secret is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), _secretHash);

    public string NewSession()
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        var now = DateTimeOffset.UtcNow;
        foreach (var expired in _sessions.Where(session => session.Value <= now).Select(session => session.Key).ToList())
        {
            _sessions.TryRemove(expired, out _);
        }

        _sessions[id] = now + SessionLifetime;
        return id;
    }

    public void EndSession(string? id)
    {
        if (id is not null)
        {
            _sessions.TryRemove(id, out _);
        }
    }

    public bool IsSession(string? id) => id is not null && _sessions.TryGetValue(id, out var expires) && expires > DateTimeOffset.UtcNow;
}
