using System.Diagnostics;

namespace Virt.Panel.Tests;

/// <summary>virtctl run as an operator would, from its own build output, on a panel's state directory.</summary>
internal static class VirtctlProcess
{
    /// <summary>
    /// virtctl from its own build output (bin/CONFIGURATION/TFM mirrors this project's): it needs its own
    /// runtime configuration, the panel's output folder leans on the ASP.NET Core shared framework.
    /// </summary>
    public static string Dll => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "virtctl", Path.GetRelativePath(Path.Combine(AppContext.BaseDirectory, "..", "..", ".."), AppContext.BaseDirectory), "virtctl.dll"));

    /// <summary>How to start <c>virtctl ARGUMENTS --json</c> on <paramref name="state"/>, its output read by the caller.</summary>
    public static ProcessStartInfo StartInfo(string state, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Dll }.Concat(arguments).Append("--json"))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["VIRTCTL_STATE"] = state;
        return start;
    }

    /// <summary>Runs a started virtctl to its end: exit code, standard output, standard error.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> FinishAsync(Process process, CancellationToken cancellationToken)
    {
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            return (process.ExitCode, await output, await error);
        }
    }
}
