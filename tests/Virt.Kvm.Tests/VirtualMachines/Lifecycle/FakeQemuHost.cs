using System.Collections.Concurrent;
using System.IO.Abstractions;
using System.Text.Json.Nodes;
using Virt.Kvm.Interop;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Lifecycle;

/// <summary>
/// QEMU processes in process: a spawn starts a <see cref="FakeQmpServer"/> that behaves like QEMU's monitor
/// (cont/stop with their events, powerdown and quit end the process, one PCIe root port for hotplug) and links the VM's QMP socket path to it,
/// so the SDK's own client connects as it would to QEMU. Liveness, reaping and signals follow the fake's state.
/// </summary>
internal sealed class FakeQemuHost(IFileSystem fileSystem) : IQemuHost, IAsyncDisposable
{
    private const int FirstPid = 1_000_000_000; // above any pid_max: never a real process
    private readonly ConcurrentDictionary<int, FakeQemu> _processes = new();
    private int _nextPid = FirstPid;

    /// <summary>When set, the next spawn writes this to QEMU's log and exits at once with code 1 (QEMU refusing its command line).</summary>
    public string? FailNextSpawnWith { get; set; }

    public IReadOnlyCollection<FakeQemu> Processes => [.. _processes.Values];

    public FakeQemu Process(int pid) => _processes[pid];

    public int Spawn(string program, IReadOnlyList<string> arguments, VmFiles files)
    {
        var pid = Interlocked.Increment(ref _nextPid);
        if (FailNextSpawnWith is { } failure)
        {
            FailNextSpawnWith = null;
            fileSystem.File.AppendAllText(files.Log, failure + "\n");
            _processes[pid] = FakeQemu.Exited(pid, arguments, exitCode: 1);
            return pid;
        }

        var qemu = new FakeQemu(pid, arguments);
        _processes[pid] = qemu;

        // The kernel's side of QEMU's listening sockets: a real path, linked to the fake monitor.
        foreach (var socket in new[] { files.QmpSocket, files.ControlSocket })
        {
            File.Delete(socket);
            File.CreateSymbolicLink(socket, qemu.Monitor.SocketPath);
        }

        return pid;
    }

    public PidFd? TryOpen(int pid) => null;

    public long? StartTicks(int pid) => _processes.TryGetValue(pid, out var qemu) && qemu.IsAlive ? qemu.StartTicks : null;

    public int? ParentPid(int pid) => _processes.TryGetValue(pid, out var qemu) && qemu.IsAlive ? Environment.ProcessId : null;

    public bool IsZombieOf(int pid, long startTicks) => false;

    public bool IsSameQemu(VmRuntimeRecord record, string vmName, out PidFd? handle)
    {
        handle = null;
        return IsSameQemu(record, vmName);
    }

    public bool IsSameQemu(VmRuntimeRecord record, string vmName) =>
        _processes.TryGetValue(record.Pid, out var qemu) && qemu.IsAlive && qemu.StartTicks == record.ProcessStartTicks && qemu.Name == vmName;

    public Task WaitUntilExitedAsync(VmRuntimeRecord record, string vmName, TimeProvider time, CancellationToken cancellationToken) => Task.CompletedTask;

    public bool TryReap(int pid, out int? exitCode)
    {
        exitCode = null;
        if (!_processes.TryGetValue(pid, out var qemu))
        {
            return true; // not our child (ECHILD)
        }

        if (qemu.IsAlive)
        {
            return false;
        }

        exitCode = qemu.Reap();
        return true;
    }

    public bool Kill(int pid, int signal)
    {
        if (!_processes.TryGetValue(pid, out var qemu) || !qemu.IsAlive)
        {
            return false;
        }

        qemu.Exit(128 + signal);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var qemu in _processes.Values)
        {
            await qemu.Monitor.DisposeAsync();
        }
    }
}

/// <summary>One fake QEMU process: its monitor, whether it runs, its exit code.</summary>
internal sealed class FakeQemu
{
    private readonly ConcurrentBag<FakeQmpConnection> _connections = [];
    private readonly ConcurrentQueue<JsonObject> _devicesAdded = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int? _exitCode;
    private bool _reaped;
    private volatile bool _paused = true; // -S: QEMU starts paused until the SDK's cont
    private volatile string? _plugged; // the device on the one hotplug root port, virt-hp0

    public FakeQemu(int pid, IReadOnlyList<string> arguments)
    {
        Pid = pid;
        Arguments = arguments;
        StartTicks = 1000 + (pid % 1000);
        var name = arguments[arguments.ToList().IndexOf("-name") + 1];
        Name = name["guest=".Length..name.IndexOf(',', StringComparison.Ordinal)];
        Monitor = new FakeQmpServer(handler: HandleAsync);
    }

    public int Pid { get; }

    /// <summary>QEMU's command line as the SDK spawned it.</summary>
    public IReadOnlyList<string> Arguments { get; }

    public long StartTicks { get; }

    public string Name { get; }

    /// <summary>The arguments of every device_add, in order.</summary>
    public IReadOnlyList<JsonObject> DevicesAdded => [.. _devicesAdded];

    public FakeQmpServer Monitor { get; }

    public bool IsAlive => !_exited.Task.IsCompleted;

    /// <summary>Completes with the exit code once the process has exited.</summary>
    public Task<int> HasExited => _exited.Task;

    public static FakeQemu Exited(int pid, IReadOnlyList<string> arguments, int exitCode)
    {
        var qemu = new FakeQemu(pid, arguments);
        qemu.Exit(exitCode);
        return qemu;
    }

    /// <summary>The exit code the first time (waitpid collects it), null after (ECHILD).</summary>
    public int? Reap()
    {
        lock (_connections)
        {
            if (_reaped)
            {
                return null;
            }

            _reaped = true;
            return _exitCode;
        }
    }

    /// <summary>Ends the process: its monitor connections close, as when QEMU exits.</summary>
    public void Exit(int exitCode)
    {
        lock (_connections)
        {
            _exitCode ??= exitCode;
        }

        foreach (var connection in _connections)
        {
            connection.Close();
        }

        _exited.TrySetResult(exitCode);
    }

    /// <summary>A device of query-pci's answer; a root port (<paramref name="plugged"/> given or not) has its bridge with what is plugged into it.</summary>
    private static JsonObject PciDevice(int bus, int slot, string id, string? plugged)
    {
        var device = new JsonObject
        {
            ["bus"] = bus,
            ["slot"] = slot,
            ["function"] = 0,
            ["class_info"] = new JsonObject { ["class"] = id.StartsWith("virt-hp", StringComparison.Ordinal) ? 1540 : 512 },
            ["id"] = new JsonObject { ["device"] = 12, ["vendor"] = 6966 },
            ["irq_pin"] = 0,
            ["qdev_id"] = id,
            ["regions"] = new JsonArray(),
        };
        if (id.StartsWith("virt-hp", StringComparison.Ordinal))
        {
            JsonObject Range() => new() { ["base"] = 0, ["limit"] = 0 };
            device["pci_bridge"] = new JsonObject
            {
                ["bus"] = new JsonObject { ["number"] = 1, ["secondary"] = 1, ["subordinate"] = 1, ["io_range"] = Range(), ["memory_range"] = Range(), ["prefetchable_range"] = Range() },
                ["devices"] = plugged is null ? new JsonArray() : new JsonArray(PciDevice(1, 0, plugged, null)),
            };
        }

        return device;
    }

    /// <summary>Sends an event on every open monitor connection.</summary>
    public async Task EventAsync(string name, JsonObject? data = null)
    {
        foreach (var connection in _connections)
        {
            await connection.EventAsync(name, data?.DeepClone().AsObject());
        }
    }

    private async Task<bool> HandleAsync(FakeQmpConnection connection, JsonObject command)
    {
        if (!IsAlive)
        {
            connection.Close();
            return true;
        }

        switch (FakeQmpConnection.NameOf(command))
        {
            case "qmp_capabilities":
                _connections.Add(connection);
                return false;
            case "query-status":
                await connection.ReturnAsync(command, new JsonObject { ["status"] = _paused ? "paused" : "running", ["singlestep"] = false, ["running"] = !_paused });
                return true;
            case "cont":
                _paused = false;
                await connection.ReturnAsync(command, new JsonObject());
                await EventAsync("RESUME");
                return true;
            case "stop":
                _paused = true;
                await connection.ReturnAsync(command, new JsonObject());
                await EventAsync("STOP");
                return true;
            case "system_powerdown":
                await connection.ReturnAsync(command, new JsonObject());
                await EventAsync("SHUTDOWN", new JsonObject { ["guest"] = true, ["reason"] = "guest-shutdown" });
                Exit(0);
                return true;
            case "query-pci":
                await connection.ReturnAsync(command, new JsonArray(new JsonObject { ["bus"] = 0, ["devices"] = new JsonArray(PciDevice(0, 2, "virt-hp0", _plugged)) }));
                return true;
            case "netdev_add" or "netdev_del":
                await connection.ReturnAsync(command, new JsonObject());
                return true;
            case "device_add":
                _plugged = command["arguments"]!["id"]!.GetValue<string>();
                _devicesAdded.Enqueue(command["arguments"]!.DeepClone().AsObject());
                await connection.ReturnAsync(command, new JsonObject());
                return true;
            case "device_del":
                var unplugged = command["arguments"]!["id"]!.GetValue<string>();
                _plugged = null;
                await connection.ReturnAsync(command, new JsonObject());
                await EventAsync("DEVICE_DELETED", new JsonObject { ["device"] = unplugged, ["path"] = "/machine/peripheral/" + unplugged });
                return true;
            case "quit":
                await connection.ReturnAsync(command, new JsonObject());
                await EventAsync("SHUTDOWN", new JsonObject { ["guest"] = false, ["reason"] = "host-qmp-quit" });
                Exit(0);
                return true;
            default:
                return false;
        }
    }
}
