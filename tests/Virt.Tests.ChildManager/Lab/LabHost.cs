using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;

namespace Virt.Tests.Lab;

/// <summary>
/// One host of a <see cref="HostLab"/>: the host agent process (an SDK manager driven over stdin/stdout, see
/// HostAgent) in its namespace. Commands run concurrently in the agent; each has an id its answers carry.
/// </summary>
public sealed class LabHost : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);
    private readonly Process _process;
    private readonly ConcurrentDictionary<string, Channel<string>> _answers = new();
    private readonly Task _reader;
    private int _nextId;

    private LabHost(string name, string ns, string stateDirectory, string tlsDirectory, string address, Process process)
    {
        (Name, Namespace, StateDirectory, TlsDirectory, Address, _process) = (name, ns, stateDirectory, tlsDirectory, address, process);
        _answers["ready"] = Channel.CreateUnbounded<string>();
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>The host's name (its manager's <c>VirtHostIdentity</c> and its certificate's CN).</summary>
    public string Name { get; }

    /// <summary>The network namespace the host runs in.</summary>
    public string Namespace { get; }

    /// <summary>The manager's state directory.</summary>
    public string StateDirectory { get; }

    /// <summary>The host's TLS material in QEMU's layout.</summary>
    public string TlsDirectory { get; }

    /// <summary>The host's address on the lab's switch.</summary>
    public string Address { get; }

    internal static async Task<LabHost> StartAsync(string name, string ns, string stateDirectory, string tlsDirectory, string address, HostLabOptions options)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
        string[] cluster = options.Cluster is { } joined
            ? ["cluster", string.Join(",", joined.Endpoints), joined.KeyPrefix, joined.LeaseSeconds.ToString(CultureInfo.InvariantCulture), address, tlsDirectory]
            : [];
        foreach (var argument in new[] { "netns", "exec", ns, "dotnet", Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), "host", stateDirectory, options.QemuBinary, name, options.GuestDirectory }.Concat(cluster))
        {
            start.ArgumentList.Add(argument);
        }

        var host = new LabHost(name, ns, stateDirectory, tlsDirectory, address, Process.Start(start)!);
        var ready = await host._answers["ready"].Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        if (ready != "ok")
        {
            await host.DisposeAsync();
            throw new InvalidOperationException($"host {name} did not start: {ready}");
        }

        return host;
    }

    /// <summary>Runs a command to its end; throws <see cref="HostCommandException"/> with the host's error.</summary>
    public async Task<string> RunAsync(params string[] command) => await FinishAsync(Send(command), null);

    /// <summary>Sends a command and returns its id; answers arrive through <see cref="FinishAsync"/>.</summary>
    public string Send(params string[] command)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        _answers[id] = Channel.CreateUnbounded<string>();
        lock (_process)
        {
            _process.StandardInput.WriteLine(JsonSerializer.Serialize<string[]>([id, .. command]));
            _process.StandardInput.Flush();
        }

        return id;
    }

    /// <summary>
    /// Waits for a command's end, calling <paramref name="onProgress"/> for each progress line of a migration (bytes of RAM
    /// sent) and <paramref name="onDiskCopy"/> for each report of its disk copies before it (bytes of the disks copied).
    /// </summary>
    public async Task<string> FinishAsync(string id, Func<long, Task>? onProgress, Func<long, Task>? onDiskCopy = null)
    {
        var answers = _answers[id].Reader;
        while (true)
        {
            var line = await answers.ReadAsync().AsTask().WaitAsync(CommandTimeout);
            var (kind, payload) = line.IndexOf(' ', StringComparison.Ordinal) is var space and > 0 ? (line[..space], line[(space + 1)..]) : (line, string.Empty);
            switch (kind)
            {
                case "progress":
                    if (onProgress is not null)
                    {
                        await onProgress(long.Parse(payload, CultureInfo.InvariantCulture));
                    }

                    continue;
                case "copying":
                    if (onDiskCopy is not null)
                    {
                        await onDiskCopy(long.Parse(payload, CultureInfo.InvariantCulture));
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

    /// <summary>Waits until the VM's state is <paramref name="state"/> (a destination resumes the guest just after the source sees completion); returns its pid.</summary>
    public async Task<string> WaitForStateAsync(string vm, string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string status;
        while (!(status = await StatusAsync(vm)).StartsWith(state + " ", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name}: VM '{vm}' is {status}, not {state}, after {timeout}");
            }

            await Task.Delay(20);
        }

        return status.Split(' ')[1];
    }

    /// <summary>Waits until this host has no such VM (its teardown is asynchronous after a failure) and no directory for it.</summary>
    public async Task WaitUntilAbsentAsync(string vm, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string status;
        while ((status = await StatusAsync(vm)) != "absent")
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} still has VM '{vm}' ({status}) after {timeout}");
            }

            await Task.Delay(200);
        }

        if (Directory.Exists(Path.Combine(StateDirectory, vm)))
        {
            throw new InvalidOperationException($"{Name} left the directory of VM '{vm}'");
        }
    }

    /// <summary>Runs a program in the VM through its guest agent; returns its standard output.</summary>
    public async Task<string> ExecAsync(string vm, params string[] command) =>
        JsonSerializer.Deserialize<string>(await RunAsync(["exec", vm, .. command]))!;

    /// <summary>Asks the process to let go of its VMs and exit.</summary>
    public async Task ExitAsync()
    {
        Send("exit");
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await _reader;
    }

    /// <summary>Kills the host process (as if the host died) without touching its QEMUs.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Kills the process if it still runs, then every QEMU this host left, by the pid its state directory records.</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        if (Directory.Exists(StateDirectory))
        {
            foreach (var pidFile in Directory.GetFiles(StateDirectory, "qemu.pid", SearchOption.AllDirectories))
            {
                if (int.TryParse(await File.ReadAllTextAsync(pidFile), out var pid) && !Virt.Tests.ProcessTable.HasEnded(pid))
                {
                    try
                    {
                        using var qemu = Process.GetProcessById(pid);
                        qemu.Kill();
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        // It ended between the look and the kill.
                    }
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

/// <summary>A command a lab host ran failed; the message is the host's.</summary>
public sealed class HostCommandException(string message) : Exception(message);
