namespace Virt.Panel.Security;

/// <summary>
/// The first middleware after host filtering: every response gets a Content-Security-Policy (scripts, styles,
/// fonts, images and connections from the panel itself only — the bundled xterm.js and noVNC need inline
/// styles, data: and blob: images and same-origin WebSockets, nothing else), frame-ancestors 'none',
/// nosniff and no referrer. A WebSocket handshake (or any other upgrade) or a changing request whose Origin
/// header is not a panel page is refused (403) before any endpoint runs: browsers always send Origin there,
/// so a page on another site cannot open a console or post with a user's cookie; clients that are not
/// browsers send none and go on to authentication.
/// </summary>
internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; " +
        "connect-src 'self'; media-src 'none'; object-src 'none'; worker-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UsePanelSecurity(this IApplicationBuilder app, PanelHosts hosts) => app.Use(async (context, next) =>
    {
        // Set as the response starts, so that responses rewritten by the exception handler (which clears headers) carry them too.
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Cross-Origin-Resource-Policy"] = "same-origin";
            return Task.CompletedTask;
        });
        var request = context.Request;
        var checksOrigin = context.WebSockets.IsWebSocketRequest || request.Headers.Upgrade.Count > 0 || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method));
        if (checksOrigin && request.Headers.Origin.Count > 0 && !hosts.IsAllowedOrigin(request.Headers.Origin.ToString(), request))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new { error = $"request from origin '{request.Headers.Origin}' refused: the panel accepts its own pages only ({string.Join(", ", hosts.Names)}, on this port; set Panel:Hosts to add names)" });
            return;
        }

        await next(context);
    });
}
