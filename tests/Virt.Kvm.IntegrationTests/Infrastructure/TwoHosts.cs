using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Virt.Processes;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>
/// Two "hosts" on one machine: two SDK managers, each in its own child process (tests/Virt.Tests.ChildManager
/// <c>host</c> mode) with its own state directory, each child in its own network namespace; the namespaces are joined
/// by a veth pair, 192.0.2.1/24 (host-a) and 192.0.2.2/24 (host-b), so migration traffic crosses a link. Each host
/// has TLS material from one test CA. Disposing ends the children and every QEMU they left (by the pids in their
/// state directories), and deletes the namespaces (the veth pair goes with them).
/// </summary>
internal sealed class TwoHosts : IAsyncDisposable
{
    public const string AddressA = "192.0.2.1";
    public const string AddressB = "192.0.2.2";

    private readonly string _root;
    private readonly List<string> _namespaces = [];

    private TwoHosts(string root)
    {
        _root = root;
    }

    public HostProcess A { get; private set; } = null!;

    public HostProcess B { get; private set; } = null!;

    public static async Task<TwoHosts> CreateAsync(CancellationToken cancellationToken)
    {
        TestGuest.Require();
        HostRequirement.Require(Environment.UserName == "root" && File.Exists("/usr/sbin/ip"), "root and iproute2, to make network namespaces");
        HostRequirement.Require(File.Exists("/usr/bin/openssl"), "openssl (apt-get install openssl), for the test certificates");
        var suffix = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var root = Directory.CreateTempSubdirectory("virt-twohosts-").FullName;
        var hosts = new TwoHosts(root);
        try
        {
            var tls = await TestCertificates.CreateAsync(Path.Combine(root, "tls"), new Dictionary<string, string> { ["host-a"] = AddressA, ["host-b"] = AddressB }, cancellationToken);
            var (nsA, nsB) = ($"virt-mig-a-{suffix}", $"virt-mig-b-{suffix}");
            var (vethA, vethB) = ($"vma{suffix}", $"vmb{suffix}");
            foreach (var ns in new[] { nsA, nsB })
            {
                await IpAsync(cancellationToken, "netns", "add", ns);
                hosts._namespaces.Add(ns);
                await IpAsync(cancellationToken, "-n", ns, "link", "set", "lo", "up");
            }

            await IpAsync(cancellationToken, "link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB);
            foreach (var (ns, veth, address) in new[] { (nsA, vethA, AddressA), (nsB, vethB, AddressB) })
            {
                await IpAsync(cancellationToken, "-n", ns, "addr", "add", $"{address}/24", "dev", veth);
                await IpAsync(cancellationToken, "-n", ns, "link", "set", veth, "up");
            }

            hosts.A = await HostProcess.StartAsync("host-a", nsA, Path.Combine(root, "state-a"), tls["host-a"], AddressA);
            hosts.B = await HostProcess.StartAsync("host-b", nsB, Path.Combine(root, "state-b"), tls["host-b"], AddressB);
            return hosts;
        }
        catch
        {
            await hosts.DisposeAsync();
            throw;
        }
    }

    /// <summary>Ends host B's process (its manager lets go of the VMs, QEMU runs on) and starts a new one on the same state.</summary>
    public async Task RestartBAsync()
    {
        await B.ExitAsync();
        B = await HostProcess.StartAsync(B.Name, B.Namespace, B.StateDirectory, B.TlsDirectory, B.Address);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in new[] { A, B })
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }

        foreach (var ns in _namespaces)
        {
            await IpAsync(CancellationToken.None, "netns", "delete", ns);
        }

        Directory.Delete(_root, recursive: true);
    }

    private static async Task IpAsync(CancellationToken cancellationToken, params string[] arguments) =>
        (await new ProcessRunner().RunAsync(new ProcessSpec("ip", arguments), cancellationToken)).EnsureSuccess();

    /// <summary>One host: the child process with its manager, in its namespace.</summary>
    internal sealed class HostProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentDictionary<string, Channel<string>> _answers = new();
        private readonly Task _reader;
        private int _nextId;

        private HostProcess(string name, string ns, string stateDirectory, string tlsDirectory, string address, Process process)
        {
            (Name, Namespace, StateDirectory, TlsDirectory, Address, _process) = (name, ns, stateDirectory, tlsDirectory, address, process);
            _answers["ready"] = Channel.CreateUnbounded<string>();
            _reader = Task.Run(ReadAsync);
        }

        public string Name { get; }

        public string Namespace { get; }

        public string StateDirectory { get; }

        public string TlsDirectory { get; }

        public string Address { get; }

        public static async Task<HostProcess> StartAsync(string name, string ns, string stateDirectory, string tlsDirectory, string address)
        {
            var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
            foreach (var argument in new[] { "netns", "exec", ns, "dotnet", Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), "host", stateDirectory, QemuBinary.Path, name, TestGuest.Directory })
            {
                start.ArgumentList.Add(argument);
            }

            var host = new HostProcess(name, ns, stateDirectory, tlsDirectory, address, Process.Start(start)!);
            var ready = await host._answers["ready"].Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal("ok", ready);
            return host;
        }

        /// <summary>Runs a command to its end; throws <see cref="HostCommandException"/> with the host's error.</summary>
        public async Task<string> RunAsync(params string[] command) => await FinishAsync(Send(command), null);

        /// <summary>Sends a command and returns its id; answers arrive through <see cref="FinishAsync"/>.</summary>
        public string Send(params string[] command)
        {
            var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _answers[id] = Channel.CreateUnbounded<string>();
            _process.StandardInput.WriteLine(JsonSerializer.Serialize<string[]>([id, .. command]));
            _process.StandardInput.Flush();
            return id;
        }

        /// <summary>Waits for a command's end, calling <paramref name="onProgress"/> for each progress line.</summary>
        public async Task<string> FinishAsync(string id, Func<long, Task>? onProgress)
        {
            var answers = _answers[id].Reader;
            while (true)
            {
                var line = await answers.ReadAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(5));
                var (kind, payload) = line.IndexOf(' ', StringComparison.Ordinal) is var space and > 0 ? (line[..space], line[(space + 1)..]) : (line, string.Empty);
                switch (kind)
                {
                    case "progress":
                        if (onProgress is not null)
                        {
                            await onProgress(long.Parse(payload, System.Globalization.CultureInfo.InvariantCulture));
                        }

                        continue;
                    case "ok":
                        _answers.TryRemove(id, out _);
                        return payload;
                    default:
                        _answers.TryRemove(id, out _);
                        throw new HostCommandException($"{Name}: {payload}");
                }
            }
        }

        /// <summary><c>STATE PID</c> of the VM, or <c>absent</c>.</summary>
        public Task<string> StatusAsync(string vm) => RunAsync("status", vm);

        /// <summary>Waits until this host has no such VM (its teardown is asynchronous after a failure).</summary>
        public async Task WaitUntilAbsentAsync(string vm, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            string status;
            while ((status = await StatusAsync(vm)) != "absent")
            {
                Assert.True(DateTime.UtcNow < deadline, $"{Name} still has VM '{vm}' ({status}) after {timeout}");
                await Task.Delay(200);
            }

            Assert.False(Directory.Exists(Path.Combine(StateDirectory, vm)), $"{Name} left the directory of VM '{vm}'");
        }

        /// <summary>Waits until the VM's state is <paramref name="state"/> (a destination resumes the guest just after the source sees completion); returns its pid.</summary>
        public async Task<string> WaitForStateAsync(string vm, string state, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            string status;
            while (!(status = await StatusAsync(vm)).StartsWith(state + " ", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, $"{Name}: VM '{vm}' is {status}, not {state}, after {timeout}");
                await Task.Delay(100);
            }

            return status.Split(' ')[1];
        }

        public async Task<string> ExecAsync(string vm, params string[] command) =>
            JsonSerializer.Deserialize<string>(await RunAsync(["exec", vm, .. command]))!;

        /// <summary>Asks the process to let go of its VMs and exit.</summary>
        public async Task ExitAsync()
        {
            await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize<string[]>(["0", "exit"]));
            await _process.StandardInput.FlushAsync();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            await _reader;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            // Every QEMU this host left running, by the pid its state directory records.
            if (Directory.Exists(StateDirectory))
            {
                foreach (var pidFile in Directory.GetFiles(StateDirectory, "qemu.pid", SearchOption.AllDirectories))
                {
                    if (int.TryParse(await File.ReadAllTextAsync(pidFile), out var pid) && !Native.HasEnded(pid))
                    {
                        Process.GetProcessById(pid).Kill();
                    }
                }
            }

            _process.Dispose();
        }

        private async Task ReadAsync()
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && _answers.TryGetValue(line[..space], out var answers))
                {
                    await answers.Writer.WriteAsync(line[(space + 1)..]);
                }
            }
        }
    }
}

/// <summary>A command a test host ran failed; the message is the host's.</summary>
internal sealed class HostCommandException(string message) : Exception(message);
