using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Virt.Panel.Auth;

/// <summary>
/// Authentication on by default: a configured password (<c>Panel:Password</c>), or a token generated at
/// start, printed once and written to <c>STATE/panel/token</c> (mode 0600). Logging in gives an HttpOnly,
/// SameSite=Strict session cookie; API clients may send <c>Authorization: Bearer TOKEN</c> instead.
/// Every mutating request made with the cookie must also carry <c>X-Virt-Panel: 1</c>, which a page on
/// another site cannot send (no CSRF through forms or simple requests).
/// </summary>
internal sealed class PanelAuth
{
    public const string Cookie = "virt_session";
    public const string CsrfHeader = "X-Virt-Panel";
    private readonly ConcurrentDictionary<string, DateTimeOffset> _sessions = new(StringComparer.Ordinal);
    private readonly byte[] _secret;

    public PanelAuth(string? password, string stateDirectory, ILogger<PanelAuth> logger)
    {
        if (!string.IsNullOrEmpty(password))
        {
            _secret = Encoding.UTF8.GetBytes(password);
            Token = null;
            return;
        }

        Token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        _secret = Encoding.UTF8.GetBytes(Token);
        var directory = Path.Combine(stateDirectory, "panel");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "token");
        File.WriteAllText(path, Token + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        logger.LogWarning("Virt.Panel: no Panel:Password configured; log in with the token in {Path}: {Token}", path, Token);
    }

    /// <summary>The generated token, or null when a password is configured.</summary>
    public string? Token { get; }

    public static TimeSpan SessionLifetime => TimeSpan.FromHours(12);

    public bool Verify(string? secret) =>
        secret is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), SHA256.HashData(_secret));

    public string NewSession()
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        _sessions[id] = DateTimeOffset.UtcNow + SessionLifetime;
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

    /// <summary>The middleware: /api/* (but login) needs a session or the bearer secret; mutating cookie requests need the header.</summary>
    public async Task CheckAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (!path.StartsWithSegments("/api", StringComparison.Ordinal) || path.Equals("/api/login", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        var bearer = context.Request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : null;
        var byBearer = Verify(bearer);
        var byCookie = !byBearer && IsSession(context.Request.Cookies[Cookie]);
        if (!byBearer && !byCookie)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsJsonAsync(new { error = "log in first: POST /api/login with the password or token, or send Authorization: Bearer TOKEN" });
            return;
        }

        var mutating = !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method);
        if (byCookie && mutating && context.Request.Headers[CsrfHeader] != "1")
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new { error = $"a changing request with the session cookie must carry the header {CsrfHeader}: 1" });
            return;
        }

        await next(context);
    }
}
