using System.Diagnostics;

namespace Virt.Storage.IntegrationTests.Infrastructure;

/// <summary>Runs host tools for the fixtures (whether a tool is there at all: <see cref="HostRequirement.RequireTool"/>).</summary>
internal static class Host
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
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}{output}");
        }

        return output;
    }

    /// <summary>Writes a byte pattern into an image through qemu-io (any format).</summary>
    public static void WritePattern(VolumeInfo volume, int pattern, string offset = "0", string length = "1M") =>
        Run("qemu-io", "-f", volume.Format == VolumeFormat.Qcow2 ? "qcow2" : "raw", "-c", $"write -P {pattern} {offset} {length}", volume.Path);

    /// <summary>Whether the image holds the pattern there (qemu-io verifies it).</summary>
    public static bool HasPattern(VolumeInfo volume, int pattern, string offset = "0", string length = "1M")
    {
        var output = Run("qemu-io", "-f", volume.Format == VolumeFormat.Qcow2 ? "qcow2" : "raw", "-c", $"read -P {pattern} {offset} {length}", volume.Path);
        return !output.Contains("Pattern verification failed", StringComparison.Ordinal);
    }
}
