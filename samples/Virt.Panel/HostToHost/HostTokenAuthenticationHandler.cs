using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Virt.Panel.Auth;
using Virt.Samples.HostToHost;

namespace Virt.Panel.HostToHost;

/// <summary>
/// The scheme of the host-to-host endpoints: the shared token in <see cref="HostToHostApi.TokenHeader"/>. Its own
/// policy (<see cref="PolicyName"/>) so that neither a panel user's secret opens these endpoints nor the host token the
/// panel's. Wrong tokens count towards the client's lockout like wrong passwords.
/// </summary>
internal sealed class HostTokenAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, HostToHostAuth auth, LoginThrottle throttle)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "HostToken";
    public const string PolicyName = "host-to-host";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HostToHostApi.TokenHeader, out var token))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var client = Context.Connection.RemoteIpAddress;
        if (throttle.LockedFor(client) is not null)
        {
            return Task.FromResult(AuthenticateResult.Fail("too many wrong secrets from this address"));
        }

        if (!auth.Verify(token.ToString()))
        {
            throttle.Failed(client);
            return Task.FromResult(AuthenticateResult.Fail("wrong host-to-host token"));
        }

        throttle.Succeeded(client);
        var host = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "host")], SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(host, SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (throttle.LockedFor(Context.Connection.RemoteIpAddress) is { } left)
        {
            await PanelAuthenticationHandler.TooManyAsync(Context, left);
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        var error = auth.IsConfigured
            ? $"send this set of hosts' token in the header {HostToHostApi.TokenHeader} (the value of Panel:HostTokenFile on the other host)"
            : $"this panel receives no VMs from other hosts: configure the hosts' shared token (Panel:HostTokenFile or {HostToHostApi.TokenEnvironmentVariable})";
        await Response.WriteAsJsonAsync(new { error });
    }
}
