using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Mvc;
using Virt.Hosting;
using Virt.Panel;
using Virt.Panel.Api;
using Virt.Panel.Auth;
using Virt.Panel.HostToHost;
using Virt.Panel.Security;

// Virt.Panel: the SDK composed into a web panel. Listens on 127.0.0.1:8006 unless --urls says otherwise.
var builder = WebApplication.CreateBuilder(args);
var state = builder.Configuration["Panel:State"] ?? "/var/lib/virt";
var urls = builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"];
if (urls is null)
{
    urls = "http://127.0.0.1:8006";
    builder.WebHost.UseUrls(urls);
}

// Deny by default, decided per endpoint and never by path: only the host names the panel serves, small
// bodies, and every endpoint behind the fallback policy (authenticated, CSRF header on cookie changes)
// unless it says AllowAnonymous (login only; the static UI is served before routing).
var hosts = PanelHosts.From(builder.Configuration["Panel:Hosts"], urls);
builder.Services.Configure<HostFilteringOptions>(filtering =>
{
    filtering.AllowedHosts = [.. hosts.Names];
    filtering.AllowEmptyHosts = false;
});
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.MaxRequestBodySize = PanelOptions.MaxRequestBody;
    kestrel.AddServerHeader = false;

    // With the hosts' CA, another host proves which host it is by its certificate (PeerHostCertificates checks it on the
    // host-to-host endpoints). Asked for, not required: browsers and API clients connect without one.
    if (builder.Configuration["Panel:TlsDirectory"] is { Length: > 0 })
    {
        kestrel.ConfigureHttpsDefaults(https =>
        {
            https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate;
            https.ClientCertificateValidation = (_, _, _) => true;
        });
    }
});

builder.Services.AddVirt()
    .UseHostName(builder.Configuration["Panel:HostName"] is { Length: > 0 } hostName ? hostName : VirtHostIdentity.FromMachine().Name)
    .AddKvm(kvm => kvm.StateDirectory = Path.Combine(state, "vms"))
    .AddLxc(lxc => lxc.LxcPath = Path.Combine(state, "lxc"))
    .AddStorage(storage => storage.StateDirectory = Path.Combine(state, "storage"))
    .AddPassthrough(passthrough => passthrough.StateDirectory = Path.Combine(state, "passthrough"))
    .AddNetwork(network =>
    {
        network.StateDirectory = Path.Combine(state, "network");

        // Panel:NetworkNamespace (a path such as /run/netns/NAME) manages the networks of that namespace instead of the host's.
        network.NetworkNamespace = builder.Configuration["Panel:NetworkNamespace"] is { Length: > 0 } ns ? ns : null;
    });
// Panel:Etcd (the cluster's etcd client URLs, comma-separated) makes this host a node of that cluster; Panel:ClusterPrefix
// is the cluster's key prefix (default /virt/).
if (builder.Configuration["Panel:Etcd"] is { Length: > 0 } etcd)
{
    builder.Services.AddVirt().AddCluster(cluster =>
    {
        foreach (var endpoint in etcd.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            cluster.Endpoints.Add(endpoint);
        }

        cluster.StateDirectory = Path.Combine(state, "cluster");

        // Panel:NodeValues:KEY=VALUE: this node's values for the shared definitions ({{node:KEY}}, {{peers:KEY}}), e.g. its underlay address.
        foreach (var value in builder.Configuration.GetSection("Panel:NodeValues").GetChildren())
        {
            cluster.NodeValues[value.Key] = value.Value ?? string.Empty;
        }

        cluster.KeyPrefix = builder.Configuration["Panel:ClusterPrefix"] is { Length: > 0 } prefix ? prefix : cluster.KeyPrefix;
    }).AddClusterMigration(migration =>
    {
        // The panel runs this node's guests, so it runs the node's migration agent: it carries out drains asked of this node
        // and receives VMs on Panel:MigrationAddress (without it this node sends VMs but receives none), over TLS with
        // Panel:TlsDirectory's certificates (null: the KVM backend's).
        migration.ListenAddress = builder.Configuration["Panel:MigrationAddress"] is { Length: > 0 } address ? address : null;
        migration.TlsDirectory = builder.Configuration["Panel:TlsDirectory"] is { Length: > 0 } tls ? tls : null;
    }).AddClusterDefinitions();
    builder.Services.AddHostedService<ClusterMembership>();
}

builder.Services.AddSingleton(PanelOptions.From(builder.Configuration));
builder.Services.AddSingleton(new StatePaths(state));
builder.Services.AddSingleton(provider => PeerHostCertificates.From(provider.GetRequiredService<PanelOptions>()));
builder.Services.AddSingleton(new LoginThrottle(TimeProvider.System));
builder.Services.AddSingleton(provider => PanelAuth.Create(builder.Configuration, state, provider.GetRequiredService<ILoggerFactory>().CreateLogger("Virt.Panel.Auth")));
builder.Services.AddSingleton(provider => HostToHostAuth.Create(provider.GetRequiredService<PanelOptions>().HostTokenFile, provider.GetRequiredService<ILoggerFactory>().CreateLogger("Virt.Panel.HostToHost")));
builder.Services.AddAuthentication(PanelAuthenticationHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, PanelAuthenticationHandler>(PanelAuthenticationHandler.SchemeName, null)
    .AddScheme<AuthenticationSchemeOptions, HostTokenAuthenticationHandler>(HostTokenAuthenticationHandler.SchemeName, null);
builder.Services.AddSingleton<IAuthorizationHandler, CsrfHeaderRequirement>();
builder.Services.AddAuthorization(authorization =>
{
    var signedIn = new AuthorizationPolicyBuilder(PanelAuthenticationHandler.SchemeName).RequireAuthenticatedUser().AddRequirements(new CsrfHeaderRequirement()).Build();
    authorization.DefaultPolicy = signedIn;
    authorization.FallbackPolicy = signedIn;

    // The host-to-host endpoints take the hosts' shared token only, never a panel user's secret (and the reverse).
    authorization.AddPolicy(HostTokenAuthenticationHandler.PolicyName, new AuthorizationPolicyBuilder(HostTokenAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build());
});
builder.Services.AddRateLimiter(limiter =>
{
    // Login: 10 tries a minute per client address, on top of the lockout after 5 wrong secrets in a row.
    limiter.AddPolicy("login", context => RateLimitPartition.GetTokenBucketLimiter(
        context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
        _ => new TokenBucketRateLimiterOptions { TokenLimit = 10, TokensPerPeriod = 10, ReplenishmentPeriod = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true }));
    limiter.OnRejected = async (rejected, cancellationToken) =>
    {
        rejected.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        if (rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            rejected.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        await rejected.HttpContext.Response.WriteAsJsonAsync(new { error = "too many login attempts from this address; wait a minute, then try again" }, cancellationToken);
    };
});
builder.Services.AddSingleton<PanelTasks>();
builder.Services.AddOpenApi();
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
builder.Services.AddProblemDetails();

var app = builder.Build();
_ = app.Services.GetRequiredService<PanelAuth>(); // the token is made (and its path logged) at start, not at the first request
_ = app.Services.GetRequiredService<HostToHostAuth>(); // a bad host token file stops the start, not the first migration
app.UseWebSockets();
app.UsePanelSecurity(hosts);
app.UseExceptionHandler(errors => errors.Run(ErrorResponses.WriteAsync));
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseRouting();
app.UseRateLimiter();
app.UseAuthentication();
app.UseAuthorization();
app.MapOpenApi();

app.MapPost("/api/login", (LoginRequest login, PanelAuth panelAuth, LoginThrottle throttle, HttpContext context) =>
{
    var client = context.Connection.RemoteIpAddress;
    if (throttle.LockedFor(client) is { } left)
    {
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(left.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Json(new { error = $"too many wrong secrets from this address: locked out for {Math.Ceiling(left.TotalSeconds)} s; wait, then try again" }, statusCode: StatusCodes.Status429TooManyRequests);
    }

    if (!panelAuth.Verify(login.Secret))
    {
        throttle.Failed(client);
        return Results.Json(new { error = "wrong password or token" }, statusCode: StatusCodes.Status401Unauthorized);
    }

    throttle.Succeeded(client);
    context.Response.Cookies.Append(PanelAuth.CookieName(context.Request), panelAuth.NewSession(), new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, MaxAge = PanelAuth.SessionLifetime, Path = "/" });
    return Results.Ok(new { ok = true });
}).AllowAnonymous().RequireRateLimiting("login").WithMetadata(new RequestSizeLimitAttribute(PanelOptions.MaxLoginBody))
    .WithTags("Session").WithSummary("Log in with the password or token; sets the session cookie.");
app.MapPost("/api/logout", (PanelAuth panelAuth, HttpContext context) =>
{
    var cookie = PanelAuth.CookieName(context.Request);
    panelAuth.EndSession(context.Request.Cookies[cookie]);
    context.Response.Cookies.Delete(cookie, new CookieOptions { Secure = context.Request.IsHttps, Path = "/" });
    return Results.Ok(new { ok = true });
}).WithTags("Session").WithSummary("End the session.");

VmEndpoints.Map(app);
ContainerEndpoints.Map(app);
HostEndpoints.Map(app);
NetworkEndpoints.Map(app);
LiveEndpoints.Map(app);
HostToHostEndpoints.Map(app);
ClusterEndpoints.Map(app);
app.Run();

internal sealed record LoginRequest(string Secret);
