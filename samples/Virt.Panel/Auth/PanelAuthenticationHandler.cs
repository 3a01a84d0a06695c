using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Virt.Panel.Auth;

/// <summary>
/// The panel's authentication scheme: <c>Authorization: Bearer SECRET</c> (the password or token) or the
/// session cookie. The user it makes carries how it was authenticated (<see cref="MethodClaim"/>), which the
/// CSRF rule needs. A wrong bearer secret counts towards the client's lockout (<see cref="LoginThrottle"/>).
/// Challenges answer 401 JSON (429 with Retry-After while the client is locked out), forbids 403 JSON.
/// </summary>
internal sealed class PanelAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, PanelAuth auth, LoginThrottle throttle)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Panel";
    public const string MethodClaim = "virt-panel/method";
    public const string ByCookie = "cookie";
    public const string ByBearer = "bearer";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var client = Context.Connection.RemoteIpAddress;
            if (throttle.LockedFor(client) is not null)
            {
                return Task.FromResult(AuthenticateResult.Fail("too many wrong secrets from this address"));
            }

            if (!auth.Verify(header["Bearer ".Length..].Trim()))
            {
                throttle.Failed(client);
                return Task.FromResult(AuthenticateResult.Fail("wrong bearer secret"));
            }

            throttle.Succeeded(client);
            return Task.FromResult(Success(ByBearer));
        }

        return Task.FromResult(auth.IsSession(Request.Cookies[PanelAuth.CookieName(Request)]) ? Success(ByCookie) : AuthenticateResult.NoResult());
    }

    private AuthenticateResult Success(string method) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "panel"), new Claim(MethodClaim, method)], SchemeName)), SchemeName));

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (throttle.LockedFor(Context.Connection.RemoteIpAddress) is { } left)
        {
            await TooManyAsync(Context, left);
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        await Response.WriteAsJsonAsync(new { error = "log in first: POST /api/login with the password or token, or send Authorization: Bearer SECRET" });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Response.WriteAsJsonAsync(new { error = $"a changing request made with the session cookie must carry the header {PanelAuth.CsrfHeader}: 1" });
    }

    /// <summary>429 with Retry-After in whole seconds.</summary>
    public static Task TooManyAsync(HttpContext context, TimeSpan left)
    {
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(left.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return context.Response.WriteAsJsonAsync(new { error = $"too many wrong secrets from this address: locked out for {Math.Ceiling(left.TotalSeconds)} s; wait, then try again" });
    }
}
