using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Virt.Processes;

namespace Virt.Storage.Tools;

/// <summary>What <c>qemu-img info --output json</c> says about one image.</summary>
internal sealed record QemuImageInfo(string Format, long VirtualSize, long ActualSize, string? BackingFile, IReadOnlyList<string> Snapshots);

/// <summary>
/// qemu-img, the host's own tool for image files: create, info, resize, convert (with progress),
/// internal snapshots. Each call goes through the process-runner seam, except convert, which streams
/// its <c>-p</c> progress.
/// </summary>
internal sealed partial class QemuImg(IProcessRunner processes, string binary = "qemu-img")
{
    private static readonly TimeSpan Quick = TimeSpan.FromMinutes(2);

    public async Task CreateAsync(string path, VolumeFormat format, long sizeBytes, string? backingFile, VolumeFormat? backingFormat, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "create", "-q", "-f", Name(format) };
        if (backingFile is not null)
        {
            arguments.AddRange(["-b", backingFile, "-F", Name(backingFormat ?? VolumeFormat.Raw)]);
        }

        arguments.Add(path);
        if (backingFile is null)
        {
            arguments.Add(sizeBytes.ToString(CultureInfo.InvariantCulture));
        }

        await RunAsync(arguments, cancellationToken).ConfigureAwait(false);
    }

    public async Task<QemuImageInfo> InfoAsync(string path, CancellationToken cancellationToken)
    {
        var result = await RunAsync(["info", "--output", "json", "-U", path], cancellationToken).ConfigureAwait(false);
        using var json = JsonDocument.Parse(result.StandardOutput);
        var root = json.RootElement;
        var snapshots = root.TryGetProperty("snapshots", out var list)
            ? list.EnumerateArray().Select(snapshot => snapshot.GetProperty("name").GetString() ?? string.Empty).ToList()
            : [];
        return new QemuImageInfo(
            root.GetProperty("format").GetString() ?? "raw",
            root.GetProperty("virtual-size").GetInt64(),
            root.TryGetProperty("actual-size", out var actual) ? actual.GetInt64() : 0,
            root.TryGetProperty("backing-filename", out var backing) ? backing.GetString() : null,
            snapshots);
    }

    public Task ResizeAsync(string path, VolumeFormat format, long sizeBytes, bool shrink, CancellationToken cancellationToken) =>
        RunAsync(shrink ? ["resize", "-q", "-f", Name(format), "--shrink", path, sizeBytes.ToString(CultureInfo.InvariantCulture)] : ["resize", "-q", "-f", Name(format), path, sizeBytes.ToString(CultureInfo.InvariantCulture)], cancellationToken);

    public Task SnapshotAsync(string action, string path, string? snapshot, CancellationToken cancellationToken) =>
        RunAsync(snapshot is null ? ["snapshot", action, path] : ["snapshot", action, snapshot, path], cancellationToken);

    /// <summary>Converts an image, yielding qemu-img's progress (0–100) as it prints it.</summary>
    public async IAsyncEnumerable<double> ConvertAsync(string source, string? sourceFormat, string target, VolumeFormat targetFormat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new List<string> { "convert", "-p", "-t", "none", "-O", Name(targetFormat) }
                     .Concat(sourceFormat is null ? [] : ["-f", sourceFormat])
                     .Concat([source, target]))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new StorageException($"cannot start {binary}: install Debian's qemu-utils");
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var buffer = new char[256];
        var pending = string.Empty;
        try
        {
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
            {
                pending += new string(buffer, 0, read);
                var matches = ProgressPattern().Matches(pending);
                if (matches.Count > 0)
                {
                    yield return double.Parse(matches[^1].Groups[1].Value, CultureInfo.InvariantCulture);
                    pending = pending[(matches[^1].Index + matches[^1].Length)..];
                }
            }

            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        if (process.ExitCode != 0)
        {
            throw new StorageException($"qemu-img convert '{source}' to '{target}' failed (exit {process.ExitCode}): {(await error.ConfigureAwait(false)).Trim()}");
        }
    }

    private async Task<ProcessResult> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await processes.RunAsync(new ProcessSpec(binary, arguments) { Timeout = Quick }, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new StorageException($"'{result.Spec.CommandLine}' failed (exit {result.ExitCode}): {result.StandardError.Trim()}");
        }

        return result;
    }

    public static string Name(VolumeFormat format) => format == VolumeFormat.Qcow2 ? "qcow2" : "raw";

    [GeneratedRegex("\\(([0-9]+(?:\\.[0-9]+)?)/100%\\)")]
    private static partial Regex ProgressPattern();
}
