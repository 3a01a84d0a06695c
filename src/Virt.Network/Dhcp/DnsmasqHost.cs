using System.Globalization;
using System.IO.Abstractions;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.IO;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Network.Dhcp;

/// <summary>
/// Supervises one dnsmasq per network: writes its configuration and hosts files atomically, starts it daemonized
/// (inside <see cref="NetworkOptions.NetworkNamespace"/> when set, through nsenter), makes it re-read its hosts on
/// SIGHUP, restarts it when its configuration changes, and stops it by the pid in its pid file — only after
/// /proc confirms that pid is still this network's dnsmasq, so a recycled pid is never signalled.
/// </summary>
internal sealed class DnsmasqHost : IDhcpHost
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private readonly NetworkOptions _options;
    private readonly IFileSystem _fileSystem;
    private readonly IProcessRunner _processes;
    private readonly IProcessSignals _signals;
    private readonly ILogger _logger;

    /// <summary>Creates the supervisor.</summary>
    public DnsmasqHost(NetworkOptions options, IFileSystem fileSystem, IProcessRunner processes, ILogger? logger = null)
        : this(options, fileSystem, processes, ProcessSignals.Instance, logger)
    {
    }

    /// <summary>Creates the supervisor with a signal seam (unit tests).</summary>
    internal DnsmasqHost(NetworkOptions options, IFileSystem fileSystem, IProcessRunner processes, IProcessSignals signals, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(processes);
        ArgumentNullException.ThrowIfNull(signals);
        _options = options;
        _fileSystem = fileSystem;
        _processes = processes;
        _signals = signals;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The files of a network's dnsmasq.</summary>
    /// <exception cref="ArgumentException">The name is not a network's name (it becomes a directory: '../x' must never reach the file system).</exception>
    public DnsmasqFiles FilesOf(string network)
    {
        if (Validation.NameRules.NetworkName(nameof(network), network) is { } problem)
        {
            throw new ArgumentException(problem, nameof(network));
        }

        return DnsmasqFiles.For(_fileSystem, _options.StateDirectory, network);
    }

    /// <inheritdoc/>
    public Task<DhcpStatus> InspectAsync(DhcpInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var files = FilesOf(instance.Network);
        var rendered = Render(instance, files);
        var matches = rendered.All(file => ReadOrNull(file.Path) == file.Content);
        var pid = RunningPid(files);
        return Task.FromResult(new DhcpStatus(pid is not null, matches, pid));
    }

    /// <inheritdoc/>
    public async Task EnsureAsync(DhcpInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var files = FilesOf(instance.Network);
        OwnerOnly.CreateDirectory(_fileSystem, files.Directory);
        var rendered = Render(instance, files);
        var changed = rendered.Where(file => ReadOrNull(file.Path) != file.Content).ToList();
        foreach (var file in changed)
        {
            StateFile.Write(_fileSystem, file.Path, Encoding.UTF8.GetBytes(file.Content), OwnerOnly.FileMode);
        }

        var pid = RunningPid(files);
        if (pid is null)
        {
            await StartAsync(instance.Network, files, cancellationToken).ConfigureAwait(false);
        }
        else if (changed.Any(file => file.Path == files.Configuration))
        {
            DnsmasqLog.Restarting(_logger, instance.Network, pid.Value);
            await TerminateAsync(instance.Network, files, pid.Value, cancellationToken).ConfigureAwait(false);
            await StartAsync(instance.Network, files, cancellationToken).ConfigureAwait(false);
        }
        else if (changed.Count > 0)
        {
            // dnsmasq re-reads dhcp-hostsfile and addn-hosts on SIGHUP, keeping its leases and sockets.
            _signals.Send(pid.Value, ProcessSignals.SigHup);
            DnsmasqLog.Reloaded(_logger, instance.Network, pid.Value);
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync(string network, bool removeLeases, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(network);
        var files = FilesOf(network);
        if (RunningPid(files) is { } pid)
        {
            await TerminateAsync(network, files, pid, cancellationToken).ConfigureAwait(false);
        }

        string[] removed = [files.Configuration, files.Hosts, files.DnsHosts, files.Pid, files.Log, LogTail.RotatedPath(files.Log)];
        foreach (var path in removeLeases ? [.. removed, files.Leases] : removed)
        {
            _fileSystem.File.Delete(path);
        }

        if (_fileSystem.Directory.Exists(files.Directory) && !_fileSystem.Directory.EnumerateFileSystemEntries(files.Directory).Any())
        {
            _fileSystem.Directory.Delete(files.Directory);
        }
    }

    /// <inheritdoc/>
    public Task<bool> IsRunningAsync(string network, CancellationToken cancellationToken) =>
        Task.FromResult(RunningPid(FilesOf(network)) is not null);

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DhcpLease>> ReadLeasesAsync(string network, CancellationToken cancellationToken)
    {
        var path = FilesOf(network).Leases;
        try
        {
            return DnsmasqLeases.Parse(await _fileSystem.File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>
    /// The pid in the network's pid file when that process is alive and is dnsmasq started with this network's
    /// configuration file (its /proc cmdline says so); null otherwise, including for a pid the kernel gave to another program.
    /// </summary>
    internal int? RunningPid(DnsmasqFiles files)
    {
        var text = ReadOrNull(files.Pid);
        if (!int.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            return null;
        }

        return IsOurDnsmasq(pid, files) ? pid : null;
    }

    private bool IsOurDnsmasq(int pid, DnsmasqFiles files)
    {
        var commandLine = ReadOrNull($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
        if (string.IsNullOrEmpty(commandLine))
        {
            return false; // gone, or a zombie
        }

        var arguments = commandLine.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        return arguments.Length > 1
            && _fileSystem.Path.GetFileName(arguments[0]) == _fileSystem.Path.GetFileName(_options.DnsmasqPath)
            && arguments.Contains(ConfFileArgument(files), StringComparer.Ordinal);
    }

    private async Task StartAsync(string network, DnsmasqFiles files, CancellationToken cancellationToken)
    {
        // A pid file left by a dnsmasq that died would let the wait below see a stale pid.
        _fileSystem.File.Delete(files.Pid);
        var spec = StartCommand(files) with { Timeout = StartTimeout };
        var result = await _processes.RunAsync(spec, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw await StartFailedAsync(network, files, $"'{spec.CommandLine}' exited {result.ExitCode}: {(result.StandardError + result.StandardOutput).Trim()}", cancellationToken).ConfigureAwait(false);
        }

        // dnsmasq's parent exits once the daemon is ready, and the daemon writes its pid file right then; wait for it.
        var deadline = DateTime.UtcNow + StartTimeout;
        int? pid;
        while ((pid = RunningPid(files)) is null)
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw await StartFailedAsync(network, files, $"'{spec.CommandLine}' exited 0 but no live dnsmasq wrote {files.Pid} within {StartTimeout.TotalSeconds:0} s", cancellationToken).ConfigureAwait(false);
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }

        DnsmasqLog.Started(_logger, network, pid.Value);
    }

    /// <summary>The command that starts the daemon: dnsmasq with only its configuration file, through nsenter when a namespace is managed.</summary>
    internal ProcessSpec StartCommand(DnsmasqFiles files) =>
        _options.NetworkNamespace is { } ns
            ? new ProcessSpec("nsenter", ["--net=" + ns, "--", _options.DnsmasqPath, ConfFileArgument(files)])
            : new ProcessSpec(_options.DnsmasqPath, [ConfFileArgument(files)]);

    private async Task TerminateAsync(string network, DnsmasqFiles files, int pid, CancellationToken cancellationToken)
    {
        _signals.Send(pid, ProcessSignals.SigTerm);
        if (!await WaitForExitAsync(pid, files, StopTimeout, cancellationToken).ConfigureAwait(false))
        {
            // Checked again just before: the pid is still this network's dnsmasq.
            _signals.Send(pid, ProcessSignals.SigKill);
            DnsmasqLog.Killed(_logger, network, pid);
            if (!await WaitForExitAsync(pid, files, StopTimeout, cancellationToken).ConfigureAwait(false))
            {
                throw new NetworkException(VirtErrorKind.Failed, $"dnsmasq for network '{network}' (pid {pid}) did not exit after SIGTERM and SIGKILL within {2 * StopTimeout.TotalSeconds:0} s: check 'cat /proc/{pid}/status' (a process in uninterruptible sleep cannot die until its I/O ends)");
            }
        }

        _fileSystem.File.Delete(files.Pid);
        DnsmasqLog.Stopped(_logger, network, pid);
    }

    private async Task<bool> WaitForExitAsync(int pid, DnsmasqFiles files, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsOurDnsmasq(pid, files))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private async Task<NetworkException> StartFailedAsync(string network, DnsmasqFiles files, string what, CancellationToken cancellationToken)
    {
        var log = (await LogTail.ReadTextAsync(_fileSystem, files.Log, 2048, cancellationToken).ConfigureAwait(false)).Trim();
        return new NetworkException(
            VirtErrorKind.Failed,
            $"dnsmasq for network '{network}' did not start: {what}; its log {files.Log} ends: {(log.Length == 0 ? "(empty)" : log)}; " +
            $"check the configuration in {files.Configuration}, that the bridge exists and is up with its gateway address, and that nothing else serves DHCP or DNS on it");
    }

    private static IReadOnlyList<(string Path, string Content)> Render(DhcpInstance instance, DnsmasqFiles files) =>
    [
        (files.Configuration, DnsmasqConfiguration.Render(instance, files)),
        (files.Hosts, DnsmasqConfiguration.RenderHosts(instance)),
        (files.DnsHosts, DnsmasqConfiguration.RenderDnsHosts(instance)),
    ];

    private static string ConfFileArgument(DnsmasqFiles files) => "--conf-file=" + files.Configuration;

    private string? ReadOrNull(string path)
    {
        // The common miss (a network without dnsmasq has no pid file) is a check, not an exception: a re-apply of a hundred
        // networks asks each whether its dnsmasq runs, and a thrown exception costs tens of microseconds, more under load.
        if (!_fileSystem.File.Exists(path))
        {
            return null;
        }

        try
        {
            return _fileSystem.File.ReadAllText(path);
        }
        catch (IOException)
        {
            // Missing (FileNotFound, DirectoryNotFound), or a /proc entry whose process exited while it was read.
            return null;
        }
    }
}
