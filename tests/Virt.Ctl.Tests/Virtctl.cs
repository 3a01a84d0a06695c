using System.Diagnostics;
using System.Text.Json;

namespace Virt.Ctl.Tests;

/// <summary>Runs the built virtctl as a process, with its state in a private directory removed on dispose.</summary>
internal sealed class Virtctl : IDisposable
{
    private readonly CancellationToken _cancellationToken;

    public Virtctl(CancellationToken cancellationToken)
    {
        _cancellationToken = cancellationToken;
        State = Directory.CreateTempSubdirectory("virtctl-").FullName;
    }

    public string State { get; }

    public async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "virtctl.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["VIRTCTL_STATE"] = State;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(_cancellationToken);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Runs with --json and expects success; returns the parsed output.</summary>
    public async Task<JsonElement> JsonAsync(params string[] arguments)
    {
        var (exit, output, error) = await RunAsync([.. arguments, "--json"]);
        Assert.True(exit == 0, $"virtctl {string.Join(' ', arguments)} exited {exit}: {error}{output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    public void Dispose() => Directory.Delete(State, recursive: true);
}
