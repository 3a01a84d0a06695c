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

    /// <summary>More environment variables for every run (VIRTCTL_NETNS, for example).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] arguments) => RunAsync(arguments, string.Empty);

    /// <summary>Runs virtctl with <paramref name="input"/> on its standard input (closed after it).</summary>
    public async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] arguments, string input)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "virtctl.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["VIRTCTL_STATE"] = State;
        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
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
