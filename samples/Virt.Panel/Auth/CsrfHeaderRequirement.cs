using Microsoft.AspNetCore.Authorization;

namespace Virt.Panel.Auth;

/// <summary>
/// Part of every endpoint's policy: a changing request (anything but GET and HEAD) made with the
/// session cookie must carry <c>X-Virt-Panel: 1</c>, which a page on another site cannot add without a CORS
/// preflight the panel never grants — so no CSRF through forms or simple requests. Bearer requests need no
/// header (a browser never adds Authorization on its own). Decided per endpoint, not per path.
/// </summary>
internal sealed class CsrfHeaderRequirement : AuthorizationHandler<CsrfHeaderRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, CsrfHeaderRequirement requirement)
    {
        if (context.Resource is not HttpContext http)
        {
            // Endpoint routing always passes the HttpContext; anything else is refused.
            return Task.CompletedTask;
        }

        var safe = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
        var byCookie = context.User.HasClaim(PanelAuthenticationHandler.MethodClaim, PanelAuthenticationHandler.ByCookie);
        if (safe || !byCookie || http.Request.Headers[PanelAuth.CsrfHeader] == "1")
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
