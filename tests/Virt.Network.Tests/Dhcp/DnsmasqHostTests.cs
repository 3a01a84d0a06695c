using System.Globalization;
using Virt.Network.Dhcp;
using Virt.Network.Hosting;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Network.Tests.Dhcp;

public sealed class DnsmasqHostTests
{
    private const string Conf = "/state/dnsmasq/lab/dnsmasq.conf";
    private readonly ModeKeepingFileSystem _fileSystem = new();
    private readonly FakeDnsmasq _dnsmasq;
    private readonly NetworkOptions _options = new() { StateDirectory = "/state" };

    public DnsmasqHostTests()
    {
        _dnsmasq = new FakeDnsmasq(_fileSystem);
    }

    private DnsmasqHost Host => new(_options, _fileSystem, _dnsmasq, _dnsmasq);

    [Fact]
    public async Task EnsureWritesTheFilesAndStartsDnsmasqWithOnlyItsConfigurationFile()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);

        Assert.Equal(["/usr/sbin/dnsmasq --conf-file=" + Conf], _dnsmasq.CommandLines);
        Assert.Equal(DnsmasqConfiguration.RenderHosts(DnsmasqConfigurationTests.Lab), await _fileSystem.File.ReadAllTextAsync("/state/dnsmasq/lab/hosts", TestContext.Current.CancellationToken));
        Assert.All(_fileSystem.ModesGiven, given => Assert.Equal(UnixFileMode.None, given.Mode & ~Virt.IO.OwnerOnly.DirectoryMode));
        Assert.Equal(new Host.DhcpStatus(true, true, 1000), await Host.InspectAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task InAManagedNamespaceDnsmasqStartsThroughNsenter()
    {
        _options.NetworkNamespace = "/run/netns/lab-host";
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        Assert.Equal(["nsenter --net=/run/netns/lab-host -- /usr/sbin/dnsmasq --conf-file=" + Conf], _dnsmasq.CommandLines);
    }

    [Fact]
    public async Task AnUnchangedInstanceIsLeftAlone()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        Assert.Single(_dnsmasq.CommandLines);
        Assert.Empty(_dnsmasq.Signals);
    }

    [Fact]
    public async Task ChangedHostsAreReReadOnSighup()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        var more = DnsmasqConfigurationTests.Lab with { Hosts = [.. DnsmasqConfigurationTests.Lab.Hosts, new DhcpReservation("52:54:00:aa:00:09", "192.0.2.19", "db")] };
        await Host.EnsureAsync(more, TestContext.Current.CancellationToken);

        Assert.Single(_dnsmasq.CommandLines);
        Assert.Equal([(1000, ProcessSignals.SigHup)], _dnsmasq.Signals);
        Assert.Contains("192.0.2.19 db", await _fileSystem.File.ReadAllTextAsync("/state/dnsmasq/lab/addn-hosts", TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AChangedConfigurationRestartsDnsmasq()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab with { LeaseTime = TimeSpan.FromHours(2) }, TestContext.Current.CancellationToken);

        Assert.Equal(2, _dnsmasq.CommandLines.Count);
        Assert.Equal([(1000, ProcessSignals.SigTerm)], _dnsmasq.Signals);
        Assert.Equal("1001", (await _fileSystem.File.ReadAllTextAsync("/state/dnsmasq/lab/pid", TestContext.Current.CancellationToken)).Trim());
    }

    [Fact]
    public async Task ARecycledPidIsNeverSignalled()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        _dnsmasq.Exit(1000);
        _fileSystem.Directory.CreateDirectory("/proc/1000");
        await _fileSystem.File.WriteAllTextAsync("/proc/1000/cmdline", "/usr/bin/sleep\0" + "1000\0", TestContext.Current.CancellationToken);

        Assert.False(await Host.IsRunningAsync("lab", TestContext.Current.CancellationToken));
        await Host.StopAsync("lab", removeLeases: false, TestContext.Current.CancellationToken);
        Assert.Empty(_dnsmasq.Signals);
    }

    [Fact]
    public async Task StopTerminatesByThePidAndRemovesTheFilesButTheLeases()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        await _fileSystem.File.WriteAllTextAsync("/state/dnsmasq/lab/leases", "0 52:54:00:aa:00:01 192.0.2.10 web *\n", TestContext.Current.CancellationToken);

        await Host.StopAsync("lab", removeLeases: false, TestContext.Current.CancellationToken);
        Assert.Equal([(1000, ProcessSignals.SigTerm)], _dnsmasq.Signals);
        Assert.Equal(["/state/dnsmasq/lab/leases"], _fileSystem.Directory.GetFiles("/state/dnsmasq/lab"));
        Assert.Equal("192.0.2.10", Assert.Single(await Host.ReadLeasesAsync("lab", TestContext.Current.CancellationToken)).Address);

        await Host.StopAsync("lab", removeLeases: true, TestContext.Current.CancellationToken);
        Assert.False(_fileSystem.Directory.Exists("/state/dnsmasq/lab"));
        Assert.Empty(await Host.ReadLeasesAsync("lab", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AFailedStartNamesTheCommandItsErrorAndTheLogTail()
    {
        _dnsmasq.FailWith = "dnsmasq: unknown interface vn-lab";
        _fileSystem.Directory.CreateDirectory("/state/dnsmasq/lab");
        await _fileSystem.File.WriteAllTextAsync("/state/dnsmasq/lab/dnsmasq.log", "dnsmasq[7]: failed to create listening socket for 192.0.2.1\n", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<NetworkException>(() => Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken));
        Assert.Contains("network 'lab'", error.Message, StringComparison.Ordinal);
        Assert.Contains("unknown interface vn-lab", error.Message, StringComparison.Ordinal);
        Assert.Contains("failed to create listening socket", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANameThatIsNotANetworksNeverReachesTheFileSystem() =>
        await Assert.ThrowsAsync<ArgumentException>(() => Host.StopAsync("../etc", removeLeases: true, TestContext.Current.CancellationToken));

    [Fact]
    public async Task InspectSeesAnEditedConfiguration()
    {
        await Host.EnsureAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken);
        await _fileSystem.File.AppendAllTextAsync(Conf, "server=8.8.8.8\n", TestContext.Current.CancellationToken);
        Assert.False((await Host.InspectAsync(DnsmasqConfigurationTests.Lab, TestContext.Current.CancellationToken)).ConfigurationMatches);
    }

    /// <summary>
    /// Behaves like dnsmasq and the kernel as the supervisor sees them: a start writes the pid file and the process's
    /// /proc cmdline; SIGTERM ends the process (its /proc entry goes); signals are recorded, never sent.
    /// </summary>
    private sealed class FakeDnsmasq(ModeKeepingFileSystem fileSystem) : IProcessRunner, IProcessSignals
    {
        private int _nextPid = 1000;

        public List<string> CommandLines { get; } = [];

        public List<(int Pid, int Signal)> Signals { get; } = [];

        public string? FailWith { get; set; }

        public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default)
        {
            CommandLines.Add(spec.CommandLine);
            if (FailWith is not null)
            {
                return new ProcessResult(spec, 2, string.Empty, FailWith, TimeSpan.Zero);
            }

            var dnsmasq = spec.FileName == "nsenter" ? spec.Arguments.SkipWhile(a => a != "--").Skip(1).ToList() : [spec.FileName, .. spec.Arguments];
            var conf = dnsmasq.Single(a => a.StartsWith("--conf-file=", StringComparison.Ordinal))["--conf-file=".Length..];
            var pidFile = (await fileSystem.File.ReadAllLinesAsync(conf, cancellationToken)).Single(l => l.StartsWith("pid-file=", StringComparison.Ordinal))["pid-file=".Length..];
            var pid = _nextPid++;
            fileSystem.Directory.CreateDirectory($"/proc/{pid}");
            await fileSystem.File.WriteAllTextAsync($"/proc/{pid}/cmdline", string.Join('\0', dnsmasq) + "\0", cancellationToken);
            await fileSystem.File.WriteAllTextAsync(pidFile, pid.ToString(CultureInfo.InvariantCulture) + "\n", cancellationToken);
            return new ProcessResult(spec, 0, string.Empty, string.Empty, TimeSpan.Zero);
        }

        public IRunningProcess Start(ProcessSpec spec) => throw new NotSupportedException("dnsmasq is started with RunAsync");

        public bool Send(int pid, int signal)
        {
            Signals.Add((pid, signal));
            if (signal is ProcessSignals.SigTerm or ProcessSignals.SigKill)
            {
                Exit(pid);
            }

            return true;
        }

        public void Exit(int pid) => fileSystem.Directory.Delete($"/proc/{pid}", recursive: true);
    }
}
