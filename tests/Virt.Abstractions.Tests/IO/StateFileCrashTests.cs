using System.Diagnostics;
using System.IO.Abstractions;
using Virt.IO;
using Virt.StateFileWriter;

namespace Virt.Abstractions.Tests.IO;

/// <summary>
/// A writer killed with SIGKILL (what a power cut does to the process) leaves the old or the new version,
/// never a torn file, and the next write removes the temporary it left. The writer is a real child process.
/// </summary>
public sealed class StateFileCrashTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("virt-statefile-").FullName;
    private readonly IFileSystem _fileSystem = new FileSystem();

    private string StatePath => Path.Combine(_directory, "state.json");

    [Fact(Timeout = 60_000)]
    public async Task Killed_between_fsync_and_rename_the_old_version_stays_and_the_next_write_removes_the_temporary()
    {
        var ct = TestContext.Current.CancellationToken;
        StateFile.Write(_fileSystem, StatePath, StateVersion.Content(1), OwnerOnly.FileMode);

        using (var writer = StartWriter("pause", 2))
        {
            await WaitForLineAsync(writer, "paused", ct);
            writer.Kill();
            await writer.WaitForExitAsync(ct);
        }

        Assert.Equal(1, StateVersion.Parse(await File.ReadAllBytesAsync(StatePath, ct)));
        var stale = Assert.Single(Temporaries());
        Assert.Equal(2, StateVersion.Parse(await File.ReadAllBytesAsync(stale, ct)));
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(stale));

        StateFile.Write(_fileSystem, StatePath, StateVersion.Content(3), OwnerOnly.FileMode);

        Assert.Equal(3, StateVersion.Parse(await File.ReadAllBytesAsync(StatePath, ct)));
        Assert.Empty(Temporaries());
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(StatePath));
    }

    [Fact(Timeout = 300_000)]
    public async Task Killed_at_random_points_the_file_always_holds_one_complete_version()
    {
        var ct = TestContext.Current.CancellationToken;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        StateFile.Write(_fileSystem, StatePath, StateVersion.Content(0), OwnerOnly.FileMode);
        var written = 0;
        for (var iteration = 0; iteration < 20; iteration++)
        {
            using var writer = StartWriter("loop", written + 1);
            var completed = 0;
            for (var wait = random.Next(1, 6); wait > 0; wait--)
            {
                completed = await WaitForWrittenAsync(writer, ct);
            }

            // The child is inside the next write (create, write, fsync or rename) when the signal lands.
            writer.Kill();
            await writer.WaitForExitAsync(ct);

            var version = StateVersion.Parse(await File.ReadAllBytesAsync(StatePath, ct));
            Assert.True(version is not null, $"iteration {iteration} (seed {seed}): the file is torn after a kill following version {completed}");
            Assert.True(version >= completed, $"iteration {iteration} (seed {seed}): the file went back from version {completed} to {version}");
            written = version.Value;
        }

        StateFile.Write(_fileSystem, StatePath, StateVersion.Content(written + 1), OwnerOnly.FileMode);
        Assert.Equal(written + 1, StateVersion.Parse(await File.ReadAllBytesAsync(StatePath, ct)));
        Assert.Empty(Temporaries());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string[] Temporaries() => Directory.GetFiles(_directory, "state.json.tmp-*");

    private Process StartWriter(string mode, int version)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Abstractions.StateFileWriter.dll"), mode, StatePath, version.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    private static async Task WaitForLineAsync(Process writer, string expected, CancellationToken ct)
    {
        var line = await writer.StandardOutput.ReadLineAsync(ct);
        Assert.True(line == expected, $"the writer printed '{line}' instead of '{expected}': {(line is null ? await writer.StandardError.ReadToEndAsync(ct) : "")}");
    }

    private static async Task<int> WaitForWrittenAsync(Process writer, CancellationToken ct)
    {
        var line = await writer.StandardOutput.ReadLineAsync(ct);
        if (line is null || !line.StartsWith("wrote ", StringComparison.Ordinal))
        {
            Assert.Fail($"the writer printed '{line}': {(line is null ? await writer.StandardError.ReadToEndAsync(ct) : "")}");
        }

        return int.Parse(line["wrote ".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
