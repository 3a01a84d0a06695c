using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Virt.Hosting;
using Virt.Kvm.GuestAgent;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;
using Virt.VirtualMachines;

/// <summary>
/// One "host" of the cross-host migration tests: a KVM manager that lives as long as this process, driven over
/// stdin/stdout, so the test can run two of them in two network namespaces. A request is a JSON array of strings,
/// <c>[id, command, args...]</c>; each answer is one line, <c>id ok PAYLOAD</c>, <c>id error MESSAGE</c> or (while a
/// migration runs) <c>id progress TRANSFERRED</c>. Requests run concurrently, so a migration can be cancelled.
/// The manager resolves volumes through a storage manager of this host (state in <c>STATE_DIR.storage</c>, named as
/// the host, so an RBD volume's cross-host lock names it), which has no pools until <c>rbd-pool</c> defines one.
/// </summary>
internal static class HostAgent
{
    private static readonly SemaphoreSlim Output = new(1, 1);

    /// <summary>Usage: host STATE_DIR QEMU_BINARY HOST_NAME GUEST_DIR [cluster ENDPOINTS PREFIX LEASE_S LISTEN_ADDRESS TLS_DIR].</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var (stateDirectory, qemuBinary, hostName, guestDirectory) = (args[0], args[1], args[2], args[3]);
        StateDirectory = stateDirectory;
        var storageDirectory = stateDirectory + ".storage";
        await using var node = args.Length > 4 && args[4] == "cluster" ? ClusterNode.Create(hostName, stateDirectory, args[5..]) : null;
        using var storage = new StorageManager(new StorageOptions { StateDirectory = storageDirectory }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new VirtHostIdentity(hostName));
        await using var manager = new KvmVirtualMachineManager(
            new KvmOptions { StateDirectory = stateDirectory, QemuBinary = qemuBinary },
            new ProcessRunner(),
            new QemuCapabilityProbe(new ProcessRunner()),
            new AcceleratorProbe(new System.IO.Abstractions.FileSystem()),
            TimeProvider.System,
            volumes: storage,
            hostIdentity: new VirtHostIdentity(hostName),
            startGate: node?.Cluster);
        Cluster = node;
        if (node is not null)
        {
            await node.StartAsync(manager, storage, args[8], args[9]);
        }

        var migrations = new ConcurrentDictionary<string, CancellationTokenSource>();
        var running = new List<Task>();
        await WriteAsync("ready ok");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var request = JsonSerializer.Deserialize(line, HostAgentJson.Default.StringArray)!;
            if (request[1] == "exit")
            {
                break;
            }

            running.Add(Task.Run(() => HandleAsync(manager, (storage, storageDirectory), guestDirectory, migrations, request)));
        }

        foreach (var cancel in migrations.Values)
        {
            await cancel.CancelAsync();
        }

        await Task.WhenAll(running);

        // The node's agents go before the VM manager and storage they use (they were made first, so would go last).
        if (node is not null)
        {
            await node.DisposeAsync();
        }

        return 0;
    }

    private static async Task HandleAsync(KvmVirtualMachineManager manager, (StorageManager Manager, string Directory) storage, string guestDirectory, ConcurrentDictionary<string, CancellationTokenSource> migrations, string[] request)
    {
        var (id, command, arguments) = (request[0], request[1], request[2..]);
        try
        {
            var payload = Cluster is { } node && await node.HandleAsync(command, arguments, guestDirectory, storage.Manager) is { } answer ? answer : command switch
            {
                "start" => await StartAsync(manager, SpecFor(arguments[0], guestDirectory, arguments.Length > 1 ? arguments[1] : "default")),
                "start-defined" => await StartDefinedAsync(manager, arguments[0]),
                "rbd-pool" => await DefineRbdPoolAsync(storage, arguments),
                "dir-pool" => await DefineDirPoolAsync(storage, arguments[0]),
                "volume-create" => await CreateVolumeAsync(storage.Manager, arguments),
                "volume-exists" => await VolumeExistsAsync(storage.Manager, arguments[0], arguments[1]),
                "status" => await StatusAsync(manager, arguments[0]),
                "exec" => await ExecAsync(manager, arguments[0], arguments[1], arguments[2..]),
                "prepare" => await PrepareAsync(manager, guestDirectory, arguments),
                "start-disk" => await StartWithDiskAsync(manager, guestDirectory, arguments[0], arguments[1]),
                "disk-sizes" => JsonSerializer.Serialize((await (await manager.GetAsync(arguments[0])).Migration.GetLocalDiskSizesAsync()).ToDictionary(), HostAgentJson.Default.DictionaryStringInt64),
                "prepare-disk" => await PrepareWithDiskAsync(manager, guestDirectory, arguments),
                "migrate" => await MigrateAsync(manager, id, migrations, arguments),
                "migrate-abandon" => await MigrateAndAbandonAsync(manager, arguments),
                "migrate-timed" => await MigrateTimedAsync(manager, arguments),
                "migrate-local" => await MigrateTimedAsync(manager, arguments),
                "cancel" => await CancelAsync(migrations, arguments[0]),
                "delete" => await DeleteAsync(manager, arguments[0]),
                _ => throw new ArgumentException($"unknown command '{command}'"),
            };
            await WriteAsync($"{id} ok {payload}");
        }
        catch (Exception ex)
        {
            await WriteAsync($"{id} error {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>This host as a cluster node, when started with <c>cluster ...</c>.</summary>
    private static ClusterNode? Cluster { get; set; }

    /// <summary>The manager's state directory: each VM's serial console log is there, for what a failure shows.</summary>
    private static string StateDirectory { get; set; } = string.Empty;

    /// <summary>The VMs whose crash was shown already (the status is polled).</summary>
    private static readonly ConcurrentDictionary<string, bool> CrashesShown = new(StringComparer.Ordinal);

    /// <summary>start NAME [VARIANT]: creates and starts the test guest, waits for its agent; returns QEMU's pid.</summary>
    private static async Task<string> StartAsync(KvmVirtualMachineManager manager, VmSpec spec)
    {
        var vm = await manager.CreateAsync(spec);
        await vm.StartAsync();
        await WhenTheAgentAnswersAsync(async () =>
        {
            await vm.Guest.PingAsync();
            return true;
        }, TimeSpan.FromMinutes(3));
        return (await vm.GetStatusAsync()).Pid!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The test guest with a host-local qcow2 data disk <c>data</c> (the guest's /dev/vda).</summary>
    private static VmSpec WithDataDisk(string name, string guestDirectory, string image) =>
        EmbeddedGuest.CreateSpec(name, guestDirectory) with { Disks = [new VmDisk("data", image)] };

    /// <summary>start-disk NAME IMAGE: creates IMAGE (qcow2, 64 MiB) if it is not there (a volume id names one that is), and starts the guest with it as its data disk.</summary>
    private static async Task<string> StartWithDiskAsync(KvmVirtualMachineManager manager, string guestDirectory, string name, string image)
    {
        if (!VmSpecValidator.IsVolumeId(image) && !File.Exists(image))
        {
            (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]))).EnsureSuccess();
        }

        return await StartAsync(manager, WithDataDisk(name, guestDirectory, image));
    }

    /// <summary>prepare-disk NAME LISTEN_ADDRESS TLS_DIR|- SOURCE_HOST|- LIFETIME_SECONDS SOURCE_IMAGE SIZES_JSON: receives the guest with its copied data disk.</summary>
    private static async Task<string> PrepareWithDiskAsync(KvmVirtualMachineManager manager, string guestDirectory, string[] arguments)
    {
        var ticket = await manager.PrepareIncomingAsync(
            WithDataDisk(arguments[0], guestDirectory, arguments[5]),
            IncomingOptions(arguments) with { LocalDiskSizes = JsonSerializer.Deserialize(arguments[6], HostAgentJson.Default.DictionaryStringInt64) });
        return JsonSerializer.Serialize(ticket, HostAgentJson.Default.MigrationTicket);
    }

    /// <summary><c>rbd-pool NAME CEPH_CONF CEPH_POOL</c>: defines an RBD pool on this host (each host of a lab its own definition of the same Ceph pool).</summary>
    private static async Task<string> DefineRbdPoolAsync((StorageManager Manager, string Directory) storage, string[] arguments)
    {
        var (name, config, cephPool) = (arguments[0], arguments[1], arguments[2]);
        await storage.Manager.DefinePoolAsync(new RbdPoolDefinition(name, Path.Combine(storage.Directory, "pool-" + name), config) { RbdPool = cephPool });
        return "defined";
    }

    /// <summary><c>dir-pool NAME</c>: defines a dir pool on this host, in its storage directory (a pool only this host reaches).</summary>
    private static async Task<string> DefineDirPoolAsync((StorageManager Manager, string Directory) storage, string name)
    {
        await storage.Manager.DefinePoolAsync(new DirPoolDefinition(name, Path.Combine(storage.Directory, "pool-" + name)));
        return "defined";
    }

    /// <summary><c>volume-create POOL NAME BYTES</c>: an empty volume in the pool's default format.</summary>
    private static async Task<string> CreateVolumeAsync(StorageManager storage, string[] arguments)
    {
        var volume = await (await storage.GetPoolAsync(arguments[0])).CreateVolumeAsync(new VolumeSpec(arguments[1], long.Parse(arguments[2], System.Globalization.CultureInfo.InvariantCulture)));
        return volume.Path;
    }

    /// <summary><c>volume-exists POOL NAME</c>: <c>yes</c> or <c>no</c>.</summary>
    private static async Task<string> VolumeExistsAsync(StorageManager storage, string pool, string name)
    {
        try
        {
            await (await storage.GetPoolAsync(pool)).GetVolumeAsync(name);
            return "yes";
        }
        catch (VolumeNotFoundException)
        {
            return "no";
        }
    }

    /// <summary><c>STATE PID</c>, or <c>absent</c> when this host has no such VM.</summary>
    private static async Task<string> StatusAsync(KvmVirtualMachineManager manager, string name)
    {
        try
        {
            var status = await (await manager.GetAsync(name)).GetStatusAsync();
            if (status.State == VmState.Crashed && CrashesShown.TryAdd(name, true))
            {
                await ShowSerialConsoleAsync(name, "crashed (its guest kernel panicked)");
            }

            return $"{status.State} {status.Pid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}";
        }
        catch (VmNotFoundException)
        {
            return "absent";
        }
    }

    private static async Task<string> ExecAsync(KvmVirtualMachineManager manager, string name, string program, string[] arguments)
    {
        var vm = await manager.GetAsync(name);
        GuestExecResult result;
        try
        {
            result = await WhenTheAgentAnswersAsync(() => vm.Guest.ExecAsync(program, arguments), TimeSpan.FromSeconds(60));
        }
        catch (Exception error) when (error is VmGuestAgentUnavailableException or GuestAgentTimeoutException)
        {
            await ShowSerialConsoleAsync(name, $"did not answer through its agent ({(await vm.GetStatusAsync()).State})");
            throw;
        }

        return JsonSerializer.Serialize(result.StandardOutputText, HostAgentJson.Default.String);
    }

    /// <summary>Writes the end of the VM's serial console log (its kernel's messages) to stderr, which the test's output keeps.</summary>
    private static async Task ShowSerialConsoleAsync(string name, string what)
    {
        var log = Path.Combine(StateDirectory, name, "serial.log");
        var lines = File.Exists(log) ? (await File.ReadAllLinesAsync(log)).TakeLast(80) : ["(no serial log)"];
        await Console.Error.WriteLineAsync($"host agent: VM '{name}' {what}; its serial console on this host ends:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}");
    }

    /// <summary>
    /// Runs <paramref name="call"/> again while the guest's agent does not answer within its 2 s sync deadline, up to
    /// <paramref name="patience"/>: a booting guest starts qemu-ga late, and a guest that has just arrived by migration
    /// runs under TCG with an empty translation cache, so on a loaded two-core machine an answer can take seconds.
    /// </summary>
    private static async Task<T> WhenTheAgentAnswersAsync<T>(Func<Task<T>> call, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try
            {
                return await call();
            }
            // Only a silent agent (a sync that timed out, before the command was sent) is retried: a connection lost
            // during the command may have run it already.
            catch (VmGuestAgentUnavailableException ex) when (ex.InnerException is GuestAgentTimeoutException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
    }

    /// <summary>
    /// The test guest's spec in a variant both hosts build alike: <c>default</c>, <c>pc</c> (another machine type),
    /// <c>hostdev</c> (a host device), <c>bridge=NAME</c> (a NIC on that bridge, with a fixed MAC), <c>disk=POOL:VOLUME</c>
    /// (a disk <c>data</c> on that storage volume: the guest's /dev/vda).
    /// </summary>
    private static VmSpec SpecFor(string name, string guestDirectory, string variant)
    {
        var spec = EmbeddedGuest.CreateSpec(name, guestDirectory);
        return variant switch
        {
            "pc" => spec with { Machine = VmMachineType.Pc },
            "hostdev" => spec with { HostDevices = [new VmHostDevice("0000:00:1f.0")] },
            _ when variant.StartsWith("bridge=", StringComparison.Ordinal) =>
                spec with { Nics = [new VmNic("lan") { Backend = VmNicBackend.Bridge, Bridge = variant["bridge=".Length..], MacAddress = "52:54:00:0a:0b:0c" }] },
            _ when variant.StartsWith("disk=", StringComparison.Ordinal) => spec with { Disks = [new VmDisk("data", variant["disk=".Length..])] },
            _ => spec,
        };
    }

    /// <summary>prepare NAME LISTEN_ADDRESS TLS_DIR|- SOURCE_HOST|- LIFETIME_SECONDS VARIANT (see <see cref="SpecFor"/>).</summary>
    private static async Task<string> PrepareAsync(KvmVirtualMachineManager manager, string guestDirectory, string[] arguments)
    {
        var ticket = await manager.PrepareIncomingAsync(SpecFor(arguments[0], guestDirectory, arguments[5]), IncomingOptions(arguments));
        return JsonSerializer.Serialize(ticket, HostAgentJson.Default.MigrationTicket);
    }

    /// <summary>The options of <c>prepare</c> and <c>prepare-disk</c>: LISTEN_ADDRESS TLS_DIR|- SOURCE_HOST|- LIFETIME_SECONDS from the second argument on.</summary>
    private static IncomingMigrationOptions IncomingOptions(string[] arguments) => new()
    {
        ListenAddress = arguments[1],
        TlsDirectory = arguments[2] == "-" ? null : arguments[2],
        Security = arguments[2] == "-" ? MigrationSecurity.ClearText : MigrationSecurity.Tls,
        SourceHost = arguments[3] == "-" ? null : arguments[3],
        TicketLifetime = TimeSpan.FromSeconds(int.Parse(arguments[4], System.Globalization.CultureInfo.InvariantCulture)),
    };

    /// <summary>migrate NAME TICKET_JSON TLS_DIR|- MAX_BANDWIDTH (0: QEMU's default) [delete-copied]. Reports progress lines until done.</summary>
    private static async Task<string> MigrateAsync(KvmVirtualMachineManager manager, string id, ConcurrentDictionary<string, CancellationTokenSource> migrations, string[] arguments)
    {
        using var cancel = new CancellationTokenSource();
        migrations[id] = cancel;
        try
        {
            var options = ToTicket(arguments) with { DeleteCopiedDisks = arguments.Length > 4 && arguments[4] == "delete-copied" };
            VmMigrationProgress? last = null;
            await foreach (var progress in (await manager.GetAsync(arguments[0])).Migration.MigrateAsync(options, cancel.Token))
            {
                last = progress;
                if (!progress.Completed)
                {
                    // Disk copies before QEMU's migration (bytes of the disks) apart from the migration's own progress (bytes of RAM).
                    await WriteAsync($"{id} {(progress.Status == "copying-disks" ? "copying" : "progress")} {progress.TransferredBytes}");
                }
            }

            return last!.Status;
        }
        finally
        {
            migrations.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// <c>migrate-abandon NAME TICKET_JSON TLS_DIR|- MAX_BANDWIDTH</c>: starts the migration and stops enumerating it at its
    /// first report, as an application that loses interest does (no cancellation: the enumerator is only disposed).
    /// Answers the status it was abandoned at.
    /// </summary>
    private static async Task<string> MigrateAndAbandonAsync(KvmVirtualMachineManager manager, string[] arguments)
    {
        await foreach (var progress in (await manager.GetAsync(arguments[0])).Migration.MigrateAsync(ToTicket(arguments)))
        {
            return progress.Status;
        }

        return "no report";
    }

    /// <summary>A migration to <c>TICKET_JSON TLS_DIR|- MAX_BANDWIDTH</c> (arguments 1 to 3; <c>-</c>: clear text, 0: QEMU's default bandwidth).</summary>
    private static VmMigrationOptions ToTicket(string[] arguments)
    {
        var bandwidth = long.Parse(arguments[3], System.Globalization.CultureInfo.InvariantCulture);
        return new VmMigrationOptions
        {
            Ticket = JsonSerializer.Deserialize(arguments[1], HostAgentJson.Default.MigrationTicket),
            TlsDirectory = arguments[2] == "-" ? null : arguments[2],
            AllowClearText = arguments[2] == "-",
            MaxBandwidth = bandwidth > 0 ? bandwidth : null,
        };
    }

    /// <summary>
    /// For the cross-host benchmark: <c>migrate-timed NAME TICKET_JSON TLS_DIR|- MAX_BANDWIDTH [DOWNTIME_LIMIT_MS]</c> to
    /// another host, or <c>migrate-local NAME [DOWNTIME_LIMIT_MS]</c> on this one. Answers <c>STATUS TOTAL_MS DOWNTIME_MS</c>
    /// from QEMU's last report.
    /// </summary>
    private static async Task<string> MigrateTimedAsync(KvmVirtualMachineManager manager, string[] arguments)
    {
        var options = arguments.Length > 3 ? ToTicket(arguments) : new VmMigrationOptions();

        var limit = arguments.Length is 2 or 5 ? arguments[^1] : null;
        if (limit is not null)
        {
            options = options with { DowntimeLimit = TimeSpan.FromMilliseconds(int.Parse(limit, System.Globalization.CultureInfo.InvariantCulture)) };
        }

        VmMigrationProgress? last = null;
        await foreach (var progress in (await manager.GetAsync(arguments[0])).Migration.MigrateAsync(options))
        {
            last = progress;
        }

        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        return $"{last!.Status} {last.Elapsed.TotalMilliseconds.ToString("0.0", invariant)} {(last.Downtime ?? TimeSpan.Zero).TotalMilliseconds.ToString("0.0", invariant)}";
    }

    private static async Task<string> CancelAsync(ConcurrentDictionary<string, CancellationTokenSource> migrations, string migrationId)
    {
        if (migrations.TryGetValue(migrationId, out var cancel))
        {
            await cancel.CancelAsync();
        }

        return "cancelled";
    }

    /// <summary><c>start-defined NAME</c>: starts a VM already defined on this host as it is.</summary>
    private static async Task<string> StartDefinedAsync(KvmVirtualMachineManager manager, string name)
    {
        await (await manager.GetAsync(name)).StartAsync();
        return "started";
    }

    private static async Task<string> DeleteAsync(KvmVirtualMachineManager manager, string name)
    {
        await manager.DeleteAsync(name, force: true);
        return "deleted";
    }

    private static async Task WriteAsync(string line)
    {
        await Output.WaitAsync();
        try
        {
            await Console.Out.WriteLineAsync(line);
            await Console.Out.FlushAsync();
        }
        finally
        {
            Output.Release();
        }
    }
}

[JsonSerializable(typeof(string[]), TypeInfoPropertyName = "StringArray")]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(MigrationTicket))]
[JsonSerializable(typeof(Dictionary<string, long>))]
internal sealed partial class HostAgentJson : JsonSerializerContext;
