using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace Virt.Panel.Tests;

/// <summary>
/// The panel started as a process on a free loopback port with a private state directory and, unless told
/// otherwise, a password given the way the panel recommends (the environment, not the command line); its
/// output is kept; killed by its PID and cleaned up on dispose.
/// </summary>
internal sealed class PanelProcess : IAsyncDisposable
{
    public const string Password = "test-password";
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private PanelProcess(Process process, ConcurrentQueue<string> output, string state, Uri address)
    {
        _process = process;
        _output = output;
        State = state;
        Address = address;
    }

    public string State { get; }

    /// <summary>The panel's project directory: its wwwroot, with the bundle ui/build.sh made.</summary>
    public static string ContentRoot => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "Virt.Panel"));

    public Uri Address { get; }

    public int Pid => _process.Id;

    /// <summary>Everything the panel wrote to standard output and standard error so far.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>The panel's resident memory (VmRSS) in bytes.</summary>
    public long ResidentBytes
    {
        get
        {
            var line = File.ReadAllLines($"/proc/{Pid}/status").Single(line => line.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
    }

    /// <param name="cancellationToken">Cancels the wait for the panel to answer.</param>
    /// <param name="arguments">More command-line arguments (configuration such as <c>--Panel:AllowHostPaths=true</c>).</param>
    /// <param name="password">The password, given in VIRT_PANEL_PASSWORD; null starts the panel without one (it makes a token).</param>
    /// <param name="scheme">http, or https with <paramref name="arguments"/> naming a certificate.</param>
    /// <param name="state">A state directory to use (made by the caller, deleted on dispose), or null for a new one.</param>
    /// <param name="address">Where the panel listens (e.g. a lab host's address), or null for a free loopback port.</param>
    /// <param name="launcher">Starts the process (e.g. in a lab host's namespace, keeping its pid), or null for <see cref="Process.Start(ProcessStartInfo)"/>.</param>
    public static async Task<PanelProcess> StartAsync(CancellationToken cancellationToken, IEnumerable<string>? arguments = null, string? password = Password, string scheme = "http", string? state = null, Uri? address = null, Func<ProcessStartInfo, Process>? launcher = null)
    {
        if (state is null)
        {
            // Like /var/lib: others may pass through (0711) but not list it. Unprivileged containers need that: LXC
            // reaches their rootfs below it as the container's root, uid 100000 on the host.
            state = Directory.CreateTempSubdirectory("virt-panel-").FullName;
            File.SetUnixFileMode(state, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        address ??= new Uri($"{scheme}://127.0.0.1:{FreeLoopbackPort()}");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Panel.dll"), "--urls", address.ToString(), $"--Panel:State={state}", "--contentRoot", ContentRoot }.Concat(arguments ?? []))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("VIRT_PANEL_PASSWORD");
        start.Environment.Remove("Panel__Password");
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        if (password is not null)
        {
            start.Environment["VIRT_PANEL_PASSWORD"] = password;
        }

        var output = new ConcurrentQueue<string>();
        var process = launcher is null ? Process.Start(start)! : launcher(start);
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) output.Enqueue(line.Data); };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) output.Enqueue(line.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var panel = new PanelProcess(process, output, state, address);
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }) { BaseAddress = address };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await http.GetAsync("/", cancellationToken)).IsSuccessStatusCode)
                {
                    return panel;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet, or never will: the deadline and the process's exit below tell which.
            }

            if (DateTime.UtcNow >= deadline || process.HasExited)
            {
                var said = panel.Output;
                await panel.DisposeAsync();
                throw new InvalidOperationException($"the panel did not answer on {address}; it wrote:\n{said}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>An API client logged in with the bearer password.</summary>
    public HttpClient Api(string secret = Password)
    {
        var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }) { BaseAddress = Address };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        return http;
    }

    public async ValueTask DisposeAsync()
    {
        // Whatever the tests made goes first (VMs and containers are killed by their delete), then the panel.
        if (!_process.HasExited)
        {
            using var api = Api();
            try
            {
                foreach (var vm in await api.GetFromJsonAsync<List<NameOnly>>("/api/vms") ?? [])
                {
                    await api.DeleteAsync($"/api/vms/{vm.Name}");
                }

                foreach (var container in await api.GetFromJsonAsync<List<NameOnly>>("/api/containers") ?? [])
                {
                    await api.DeleteAsync($"/api/containers/{container.Name}");
                }
            }
            catch (HttpRequestException)
            {
                // No password (a token) or locked out: the test made nothing through the API, or cleaned up itself.
            }

            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(State, recursive: true);
    }

    private sealed record NameOnly(string Name);
}
