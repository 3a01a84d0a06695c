using System.Diagnostics;

namespace Virt.Network.Probe;

/// <summary>Runs iproute2 and ping in the guest: the checks read the kernel through the tools people use, not the SDK.</summary>
internal static class Shell
{
    /// <summary>Runs a command and returns its standard output; throws with its output when it fails.</summary>
    public static string Run(params string[] command)
    {
        var (exitCode, output) = Try(command);
        return exitCode == 0 ? output : throw new InvalidOperationException($"'{string.Join(' ', command)}' exited {exitCode}: {output}");
    }

    /// <summary>Runs a command inside a named network namespace (ip netns exec).</summary>
    public static string InNamespace(string name, params string[] command) => Run(["ip", "netns", "exec", name, .. command]);

    /// <summary>Runs a command; returns its exit code and output (standard output, then standard error).</summary>
    public static (int ExitCode, string Output) Try(params string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"'{command[0]}' did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
