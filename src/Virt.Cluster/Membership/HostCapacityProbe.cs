using System.Globalization;
using System.IO.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Virt.Clustering;
using Virt.Networking;
using Virt.Processes;
using Virt.Storage;

namespace Virt.Cluster.Membership;

/// <summary>
/// This host's capacity: logical CPUs, <c>MemTotal</c> and <c>MemAvailable</c> from <c>/proc/meminfo</c>, the networks and
/// pools of the network and storage backends where they are registered, and the QEMU version (asked once, from
/// <c>--version</c>, as it changes only with a package upgrade and a restart of the SDK's processes).
/// </summary>
internal sealed class HostCapacityProbe(IServiceProvider? services, IFileSystem? files = null, IProcessRunner? processes = null, string qemuPath = "qemu-system-x86_64") : INodeCapacityProbe
{
    private readonly IFileSystem _files = files ?? services?.GetService<IFileSystem>() ?? new FileSystem();
    private readonly IProcessRunner _processes = processes ?? services?.GetService<IProcessRunner>() ?? new ProcessRunner();
    private string? _qemuVersion;
    private bool _qemuAsked;

    public async Task<NodeCapacity> MeasureAsync(CancellationToken cancellationToken)
    {
        var (total, available) = ReadMemory(await _files.File.ReadAllTextAsync("/proc/meminfo", cancellationToken).ConfigureAwait(false));
        var networks = services?.GetService<INetworkManager>() is { } networkManager
            ? (await networkManager.ListAsync(cancellationToken).ConfigureAwait(false)).Select(n => n.Definition.Name).Order(StringComparer.Ordinal).ToArray()
            : [];
        var pools = services?.GetService<IStorageManager>() is { } storage
            ? (await storage.ListPoolsAsync(cancellationToken).ConfigureAwait(false)).Select(p => p.Definition.Name).Order(StringComparer.Ordinal).ToArray()
            : [];
        return new NodeCapacity(Environment.ProcessorCount, total, available, networks, pools, await QemuVersionAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>MemTotal and MemAvailable in bytes (the file counts kB).</summary>
    internal static (long Total, long Available) ReadMemory(string meminfo)
    {
        long total = 0, available = 0;
        foreach (var line in meminfo.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
            {
                switch (parts[0])
                {
                    case "MemTotal:":
                        total = kb * 1024;
                        break;
                    case "MemAvailable:":
                        available = kb * 1024;
                        break;
                }
            }
        }

        return (total, available);
    }

    /// <summary>"10.0.2" from "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)"; null where none.</summary>
    internal static string? ParseQemuVersion(string output)
    {
        const string Marker = "QEMU emulator version ";
        var at = output.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var rest = output[(at + Marker.Length)..];
        var end = rest.IndexOfAny([' ', '\n', '\r']);
        return end < 0 ? rest : rest[..end];
    }

    private async Task<string?> QemuVersionAsync(CancellationToken cancellationToken)
    {
        if (_qemuAsked)
        {
            return _qemuVersion;
        }

        try
        {
            var result = await _processes.RunAsync(new ProcessSpec(qemuPath, ["--version"]) { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false);
            _qemuVersion = result.ExitCode == 0 ? ParseQemuVersion(result.StandardOutput) : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or VirtException)
        {
            // No QEMU on this node: it publishes none, and placement treats it as a node without QEMU.
            _qemuVersion = null;
        }

        _qemuAsked = true;
        return _qemuVersion;
    }
}
