using Virt.Hosting;
using Virt.Kvm.Hosting;
using Virt.Lxc.Hosting;
using Virt.Panel.Api;
using Virt.Panel.Auth;
using Virt.Passthrough.Hosting;
using Virt.Storage.Hosting;

// Virt.Panel: the SDK composed into a web panel. Listens on 127.0.0.1:8006 unless --urls says otherwise.
var builder = WebApplication.CreateBuilder(args);
var state = builder.Configuration["Panel:State"] ?? "/var/lib/virt";
if (builder.Configuration["urls"] is null && builder.Configuration["ASPNETCORE_URLS"] is null)
{
    builder.WebHost.UseUrls("http://127.0.0.1:8006");
}

builder.Services.AddVirt()
    .AddKvm(kvm => kvm.StateDirectory = Path.Combine(state, "vms"))
    .AddLxc(lxc => lxc.LxcPath = Path.Combine(state, "lxc"))
    .AddStorage(storage => storage.StateDirectory = Path.Combine(state, "storage"))
    .AddPassthrough(passthrough => passthrough.StateDirectory = Path.Combine(state, "passthrough"));
builder.Services.AddSingleton(provider => new PanelAuth(builder.Configuration["Panel:Password"], state, provider.GetRequiredService<ILogger<PanelAuth>>()));
builder.Services.AddSingleton<PanelTasks>();
builder.Services.AddOpenApi();
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
builder.Services.AddProblemDetails();

var app = builder.Build();
app.UseExceptionHandler(errors => errors.Run(ErrorResponses.WriteAsync));
app.UseWebSockets();
app.UseDefaultFiles();
app.UseStaticFiles();
var auth = app.Services.GetRequiredService<PanelAuth>();
app.Use((context, next) => auth.CheckAsync(context, _ => next()));
app.MapOpenApi();

app.MapPost("/api/login", (LoginRequest login, PanelAuth panelAuth, HttpContext context) =>
{
    if (!panelAuth.Verify(login.Secret))
    {
        return Results.Json(new { error = "wrong password or token" }, statusCode: StatusCodes.Status401Unauthorized);
    }

    context.Response.Cookies.Append(PanelAuth.Cookie, panelAuth.NewSession(), new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, MaxAge = PanelAuth.SessionLifetime, Path = "/" });
    return Results.Ok(new { ok = true });
}).WithTags("Session").WithSummary("Log in with the password or token; sets the session cookie.");
app.MapPost("/api/logout", (PanelAuth panelAuth, HttpContext context) =>
{
    panelAuth.EndSession(context.Request.Cookies[PanelAuth.Cookie]);
    context.Response.Cookies.Delete(PanelAuth.Cookie);
    return Results.Ok(new { ok = true });
}).WithTags("Session").WithSummary("End the session.");

VmEndpoints.Map(app);
ContainerEndpoints.Map(app);
HostEndpoints.Map(app);
LiveEndpoints.Map(app);
app.Run();

internal sealed record LoginRequest(string Secret);
