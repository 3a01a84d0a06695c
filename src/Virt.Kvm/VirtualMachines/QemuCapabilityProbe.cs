using System.Collections.Concurrent;
using System.IO.Abstractions;
using System.Text.RegularExpressions;
using Virt.Processes;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Probes a QEMU binary for its version, machine types and accelerators, once: results are cached by
/// binary path and modification time (like libvirt's capability cache), so an upgrade is noticed.
/// </summary>
public sealed partial class QemuCapabilityProbe
{
    private readonly IProcessRunner _processRunner;
    private readonly IFileSystem _fileSystem;
    private readonly ConcurrentDictionary<(string Path, DateTime Modified, string? DataDirectory), Lazy<Task<QemuCapabilities>>> _cache = new();

    /// <summary>Creates a probe that finds the binary on the host's file system.</summary>
    /// <param name="processRunner">Runs the binary.</param>
    public QemuCapabilityProbe(IProcessRunner processRunner)
        : this(processRunner, new FileSystem())
    {
    }

    /// <summary>Creates a probe.</summary>
    /// <param name="processRunner">Runs the binary.</param>
    /// <param name="fileSystem">Where the binary and its modification time are looked up (a fake in tests).</param>
    public QemuCapabilityProbe(IProcessRunner processRunner, IFileSystem fileSystem)
    {
        ArgumentNullException.ThrowIfNull(processRunner);
        ArgumentNullException.ThrowIfNull(fileSystem);
        _processRunner = processRunner;
        _fileSystem = fileSystem;
    }

    /// <summary>How many times a binary was actually run to probe it (for tests and diagnostics).</summary>
    public int ProbeCount { get; private set; }

    /// <summary>Gets the capabilities of a binary, probing it on first use.</summary>
    /// <param name="binaryPath">The QEMU binary (absolute path).</param>
    /// <param name="dataDirectory">A <c>-L</c> data directory for a QEMU unpacked outside /usr, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>The capabilities.</returns>
    /// <exception cref="VirtException">The binary is missing or does not answer like QEMU.</exception>
    public Task<QemuCapabilities> GetAsync(string binaryPath, string? dataDirectory = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(binaryPath);
        if (!_fileSystem.File.Exists(binaryPath))
        {
            throw new VirtException(VirtErrorKind.Refused, $"QEMU binary '{binaryPath}' does not exist: install qemu-system-x86 (apt-get install qemu-system-x86) or set KvmOptions.QemuBinary");
        }

        var key = (binaryPath, _fileSystem.File.GetLastWriteTimeUtc(binaryPath), dataDirectory);
        var entry = _cache.GetOrAdd(key, k => new Lazy<Task<QemuCapabilities>>(() => ProbeAsync(k.Path, k.DataDirectory, cancellationToken)));
        if (entry.Value.IsFaulted || entry.Value.IsCanceled)
        {
            _cache.TryRemove(new KeyValuePair<(string, DateTime, string?), Lazy<Task<QemuCapabilities>>>(key, entry));
        }

        return entry.Value;
    }

    private async Task<QemuCapabilities> ProbeAsync(string binaryPath, string? dataDirectory, CancellationToken cancellationToken)
    {
        ProbeCount++;
        string[] data = dataDirectory is null ? [] : ["-L", dataDirectory];
        var version = await RunAsync(binaryPath, [.. data, "-version"], cancellationToken).ConfigureAwait(false);
        var match = VersionPattern().Match(version);
        if (!match.Success)
        {
            throw new VirtException($"'{binaryPath} -version' did not print a QEMU version (it printed '{version.Trim()}'): point KvmOptions.QemuBinary at qemu-system-x86_64");
        }

        var machines = await RunAsync(binaryPath, [.. data, "-machine", "help"], cancellationToken).ConfigureAwait(false);
        var accelerators = await RunAsync(binaryPath, [.. data, "-accel", "help"], cancellationToken).ConfigureAwait(false);
        return new QemuCapabilities(
            binaryPath,
            new Version(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)),
            FirstWords(machines, skipHeader: true),
            FirstWords(accelerators, skipHeader: true));
    }

    private async Task<string> RunAsync(string binaryPath, string[] arguments, CancellationToken cancellationToken)
    {
        var result = await _processRunner.RunAsync(new ProcessSpec(binaryPath, arguments) { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken).ConfigureAwait(false);
        return result.EnsureSuccess().StandardOutput;
    }

    private static HashSet<string> FirstWords(string output, bool skipHeader) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Skip(skipHeader ? 1 : 0)
            .Select(line => line.Split(' ', 2)[0])
            .Where(word => word.Length > 0)
            .ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"version (\d+)\.(\d+)\.(\d+)")]
    private static partial Regex VersionPattern();
}
