using System.Diagnostics;
using System.Globalization;

namespace Virt.Benchmarks;

/// <summary>
/// The C baselines in <c>benchmarks/floor/</c>, compiled with the system compiler (<c>cc -O2</c>) into
/// a temporary directory when a comparison starts: no binary is checked in. Each tool prints one line
/// of <c>key=value</c> pairs, which <see cref="RunAsync"/> parses.
/// </summary>
internal sealed class CFloor : IDisposable
{
    private CFloor(string directory)
    {
        Directory = directory;
    }

    /// <summary>Where the binaries are.</summary>
    public string Directory { get; }

    /// <summary>The QMP round-trip client: <c>qmp-floor SOCKET CALLS</c>.</summary>
    public string QmpFloor => Path.Combine(Directory, "qmp-floor");

    /// <summary>The plain launch: <c>start-floor SOCKET TIMEOUT_MS QEMU ARG...</c>.</summary>
    public string StartFloor => Path.Combine(Directory, "start-floor");

    /// <summary>The plain migration: <c>migrate-floor SRC_QMP DST_QMP SRC_SERIAL_LOG MARKER ADDRESS PORT SRC_TLS DST_TLS HOSTNAME LIMIT_MS TIMEOUT_MS</c>.</summary>
    public string MigrateFloor => Path.Combine(Directory, "migrate-floor");

    /// <summary>Compiles the tools; fails with the compiler's output when <c>cc</c> is missing or fails.</summary>
    public static async Task<CFloor> BuildAsync()
    {
        var sources = FindSources();
        var directory = System.IO.Directory.CreateTempSubdirectory("virt-bench-floor-").FullName;
        var floor = new CFloor(directory);
        try
        {
            foreach (var tool in new[] { "qmp-floor", "start-floor", "migrate-floor" })
            {
                var result = await RunAsync("cc", ["-O2", "-Wall", "-o", Path.Combine(directory, tool), Path.Combine(sources, tool + ".c")], TimeSpan.FromMinutes(2));
                if (result.ExitCode != 0)
                {
                    throw new InvalidOperationException($"cc could not build {tool}.c (exit {result.ExitCode}): {result.Error}; install gcc or clang");
                }
            }

            return floor;
        }
        catch
        {
            floor.Dispose();
            throw;
        }
    }

    /// <summary>Runs a tool; a run past <paramref name="timeout"/> is killed and reported with <see cref="ToolResult.TimedOut"/>.</summary>
    public static async Task<ToolResult> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return new ToolResult(-1, await output, await error, TimedOut: true);
        }

        return new ToolResult(process.ExitCode, await output, await error, TimedOut: false);
    }

    /// <summary>Reads <c>key=value</c> from a tool's line as a number.</summary>
    public static double Value(string line, string key)
    {
        foreach (var pair in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith(key + "=", StringComparison.Ordinal))
            {
                return double.Parse(pair.AsSpan(key.Length + 1), CultureInfo.InvariantCulture);
            }
        }

        throw new FormatException($"'{key}' is missing from the tool's output: {line}");
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private static string FindSources()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "benchmarks", "floor");
            if (File.Exists(Path.Combine(candidate, "qmp-floor.c")))
            {
                return candidate;
            }
        }

        var fromWorkingDirectory = Path.GetFullPath(Path.Combine("benchmarks", "floor"));
        return File.Exists(Path.Combine(fromWorkingDirectory, "qmp-floor.c"))
            ? fromWorkingDirectory
            : throw new InvalidOperationException("benchmarks/floor/qmp-floor.c not found above the benchmark's binaries or in the working directory; run from the repository");
    }
}

/// <summary>How a tool ended: its exit code, its output and whether it was killed for running too long.</summary>
internal sealed record ToolResult(int ExitCode, string Output, string Error, bool TimedOut);
