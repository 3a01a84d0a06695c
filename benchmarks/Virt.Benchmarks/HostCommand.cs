using System.Diagnostics;

namespace Virt.Benchmarks;

/// <summary>Runs a host tool for the benchmarks' fixtures (mkfs, losetup, mount, qemu-io, the Ceph script) and returns its output.</summary>
internal static class HostCommand
{
    public static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {error}");
    }
}
