using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace Virt.Panel.Tests;

/// <summary>The panel started as a process on a free loopback port with a private state directory and a password; killed by its PID and cleaned up on dispose.</summary>
internal sealed class PanelProcess : IAsyncDisposable
{
    public const string Password = "test-password";
    private readonly Process _process;

    private PanelProcess(Process process, string state, Uri address)
    {
        _process = process;
        State = state;
        Address = address;
    }

    public string State { get; }

    /// <summary>The panel's project directory: its wwwroot, with the bundle ui/build.sh made.</summary>
    public static string ContentRoot => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "Virt.Panel"));

    public Uri Address { get; }

    public static async Task<PanelProcess> StartAsync(CancellationToken cancellationToken)
    {
        var state = Directory.CreateTempSubdirectory("virt-panel-").FullName;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var address = new Uri($"http://127.0.0.1:{port}");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Panel.dll"), "--urls", address.ToString(), $"--Panel:State={state}", $"--Panel:Password={Password}", "--contentRoot", ContentRoot })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var panel = new PanelProcess(process, state, address);
        using var http = new HttpClient { BaseAddress = address };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                if ((await http.GetAsync("/", cancellationToken)).IsSuccessStatusCode)
                {
                    return panel;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
            }

            if (DateTime.UtcNow >= deadline || process.HasExited)
            {
                await panel.DisposeAsync();
                throw new InvalidOperationException($"the panel did not answer on {address}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>An API client logged in with the bearer password.</summary>
    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = Address };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Password);
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
            }

            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(State, recursive: true);
    }

    private sealed record NameOnly(string Name);
}
