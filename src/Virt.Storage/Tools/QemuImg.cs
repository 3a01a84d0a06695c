using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Virt.Processes;

namespace Virt.Storage.Tools;

/// <summary>What <c>qemu-img info --output json</c> says about one image.</summary>
/// <param name="Format">The format qemu-img opened it with (the one it was told with <c>-f</c>, for a pool's volume).</param>
/// <param name="VirtualSize">Its virtual size.</param>
/// <param name="ActualSize">The bytes it occupies.</param>
/// <param name="BackingFile">The backing file its header names, as written there.</param>
/// <param name="BackingFormat">The backing file's format its header records, if any.</param>
/// <param name="DataFile">A qcow2 external data file its header names, if any.</param>
/// <param name="Snapshots">Its internal snapshots.</param>
/// <param name="Extents">For vmdk: the files its extents live in.</param>
internal sealed record QemuImageInfo(string Format, long VirtualSize, long ActualSize, string? BackingFile, string? BackingFormat, string? DataFile, IReadOnlyList<string> Snapshots, IReadOnlyList<string> Extents);

/// <summary>
/// qemu-img, the host's own tool for image files: create, info, resize, convert (with progress),
/// internal snapshots. Each call goes through the process-runner seam; convert through its streaming
/// form, to read the <c>-p</c> progress as qemu-img prints it.
/// </summary>
/// <remarks>
/// Every call names the image's format (<c>-f</c>, <c>-F</c>, or a driver in <c>--image-opts</c>): a pool's
/// volumes have the format recorded when they were made, and qemu-img never guesses it from the bytes,
/// which a guest writes (a raw disk whose guest wrote a qcow2 header naming a host file would otherwise be
/// read as that qcow2 — QEMU's own documentation warns about it). The one probe, <see cref="ProbeAsync"/>,
/// is for files brought in from outside the pool, and its callers refuse anything that names another file.
/// </remarks>
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

    /// <summary>Describes an image opened as <paramref name="format"/> (never probed). Backing files are not opened.</summary>
    public async Task<QemuImageInfo> InfoAsync(string path, VolumeFormat format, CancellationToken cancellationToken) =>
        Parse((await RunAsync(["info", "--output", "json", "-U", "-f", Name(format), path], cancellationToken).ConfigureAwait(false)).StandardOutput);

    /// <summary>
    /// Describes a file from outside the pool (an import's source) by letting qemu-img guess its format.
    /// Its backing and data files are not opened; the caller must refuse any image that names one.
    /// </summary>
    public async Task<QemuImageInfo> ProbeAsync(string path, CancellationToken cancellationToken) =>
        Parse((await RunAsync(["info", "--output", "json", "-U", path], cancellationToken).ConfigureAwait(false)).StandardOutput);

    public Task ResizeAsync(string path, VolumeFormat format, long sizeBytes, bool shrink, CancellationToken cancellationToken) =>
        RunAsync(shrink ? ["resize", "-q", "-f", Name(format), "--shrink", path, sizeBytes.ToString(CultureInfo.InvariantCulture)] : ["resize", "-q", "-f", Name(format), path, sizeBytes.ToString(CultureInfo.InvariantCulture)], cancellationToken);

    /// <summary>
    /// Internal snapshots, which only qcow2 has: the image is opened as qcow2, never probed (qemu-img
    /// snapshot has no <c>-f</c>, so the driver is named in a <c>json:</c> description).
    /// </summary>
    public Task SnapshotAsync(string action, string path, string? snapshot, CancellationToken cancellationToken) =>
        RunAsync(snapshot is null ? ["snapshot", action, JsonName("qcow2", path, noBacking: false)] : ["snapshot", action, snapshot, JsonName("qcow2", path, noBacking: false)], cancellationToken);

    /// <summary>Converts a pool's image, opened as <paramref name="sourceFormat"/>, yielding qemu-img's progress (0–100).</summary>
    public IAsyncEnumerable<double> ConvertAsync(string source, VolumeFormat sourceFormat, string target, VolumeFormat targetFormat, CancellationToken cancellationToken) =>
        ConvertAsync(["-f", Name(sourceFormat), source], target, targetFormat, cancellationToken);

    /// <summary>
    /// Converts a file from outside the pool whose format <see cref="ProbeAsync"/> found, opened through
    /// a <c>json:</c> description: the driver is named, the file name is never parsed as a protocol
    /// (<c>nbd:</c>, <c>json:</c>…), and a qcow2's backing file is never opened (<c>"backing": null</c>),
    /// even if the file changed since it was probed.
    /// </summary>
    public IAsyncEnumerable<double> ConvertForeignAsync(string source, string sourceFormat, string target, VolumeFormat targetFormat, CancellationToken cancellationToken) =>
        ConvertAsync([JsonName(sourceFormat, source, noBacking: sourceFormat == "qcow2")], target, targetFormat, cancellationToken);

    /// <summary>QEMU's <c>json:</c> name for a file opened with <paramref name="driver"/>: the path is never parsed as a protocol; optionally without its backing file.</summary>
    private static string JsonName(string driver, string path, bool noBacking)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("driver", driver);
            writer.WriteStartObject("file");
            writer.WriteString("driver", "file");
            writer.WriteString("filename", path);
            writer.WriteEndObject();
            if (noBacking)
            {
                writer.WriteNull("backing");
            }

            writer.WriteEndObject();
        }

        return "json:" + Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Converts an image, yielding qemu-img's progress (0–100) as it prints it.</summary>
    private async IAsyncEnumerable<double> ConvertAsync(IReadOnlyList<string> sourceArguments, string target, VolumeFormat targetFormat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var source = sourceArguments[^1];
        IRunningProcess process;
        try
        {
            process = processes.Start(new ProcessSpec(binary, ["convert", "-p", "-t", "none", "-O", Name(targetFormat), .. sourceArguments, target]));
        }
        catch (VirtException ex) when (ex.InnerException is System.ComponentModel.Win32Exception)
        {
            throw new StorageException($"cannot start {binary}: install Debian's qemu-utils", ex);
        }

        // Disposing kills qemu-img with its children if the caller stops reading or the enumeration fails.
        await using (process.ConfigureAwait(false))
        {
            using var standardError = new StreamReader(process.StandardError);
            var error = standardError.ReadToEndAsync(CancellationToken.None);
            using var standardOutput = new StreamReader(process.StandardOutput);
            var buffer = new char[256];
            var pending = string.Empty;
            int read;
            while ((read = await standardOutput.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
            {
                pending += new string(buffer, 0, read);
                var matches = ProgressPattern().Matches(pending);
                if (matches.Count > 0)
                {
                    yield return double.Parse(matches[^1].Groups[1].Value, CultureInfo.InvariantCulture);
                    pending = pending[(matches[^1].Index + matches[^1].Length)..];
                }
            }

            var exitCode = await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (exitCode != 0)
            {
                throw new StorageException($"qemu-img convert '{source}' to '{target}' failed (exit {exitCode}): {(await error.ConfigureAwait(false)).Trim()}");
            }
        }
    }

    private static QemuImageInfo Parse(string output)
    {
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        var snapshots = root.TryGetProperty("snapshots", out var list)
            ? list.EnumerateArray().Select(snapshot => snapshot.GetProperty("name").GetString() ?? string.Empty).ToList()
            : [];
        string? dataFile = null;
        var extents = new List<string>();
        if (root.TryGetProperty("format-specific", out var specific) && specific.TryGetProperty("data", out var data))
        {
            if (data.TryGetProperty("data-file", out var file))
            {
                dataFile = file.GetString() ?? string.Empty;
            }

            if (data.TryGetProperty("extents", out var list2))
            {
                extents.AddRange(list2.EnumerateArray().Select(extent => extent.TryGetProperty("filename", out var name) ? name.GetString() ?? string.Empty : string.Empty));
            }
        }

        return new QemuImageInfo(
            root.GetProperty("format").GetString() ?? "raw",
            root.GetProperty("virtual-size").GetInt64(),
            root.TryGetProperty("actual-size", out var actual) ? actual.GetInt64() : 0,
            root.TryGetProperty("backing-filename", out var backing) ? backing.GetString() : null,
            root.TryGetProperty("backing-filename-format", out var backingFormat) ? backingFormat.GetString() : null,
            dataFile,
            snapshots,
            extents);
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
