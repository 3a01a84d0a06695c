using Virt.Kvm.Testing;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>A VM manager on a private state directory; every VM it made is killed and every file removed on dispose.</summary>
internal sealed class VmTestHost : IAsyncDisposable
{
    private VmTestHost(string stateDirectory)
    {
        StateDirectory = stateDirectory;
        Options = new KvmOptions { StateDirectory = stateDirectory, QemuBinary = QemuBinary.Path };
        Manager = CreateManager();
    }

    public string StateDirectory { get; }

    public KvmOptions Options { get; }

    public KvmVirtualMachineManager Manager { get; private set; }

    public static VmTestHost Create()
    {
        TestGuest.Require();
        Native.BecomeSubreaper();
        return new VmTestHost(Directory.CreateTempSubdirectory("virt-vms-").FullName);
    }

    /// <summary>Every QMP event the VMs of this host sent; each must read into its generated class.</summary>
    public EventRecorder Events { get; } = new();

    public KvmVirtualMachineManager CreateManager() =>
        new(Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, Events);

    /// <summary>Replaces the manager with a new one, as after an application restart.</summary>
    public async Task RestartManagerAsync()
    {
        await Manager.DisposeAsync();
        Manager = CreateManager();
    }

    public static VmSpec GuestSpec(string name, int memoryMiB = 256) => EmbeddedGuest.CreateSpec(name, TestGuest.Directory, memoryMiB);

    public static async Task<string> WaitForSerialAsync(IVirtualMachine vm, string text, int occurrences = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (true)
        {
            var log = File.Exists(vm.Endpoints.SerialLog) ? await File.ReadAllTextAsync(vm.Endpoints.SerialLog) : string.Empty;
            var count = 0;
            for (var at = log.IndexOf(text, StringComparison.Ordinal); at >= 0; at = log.IndexOf(text, at + text.Length, StringComparison.Ordinal))
            {
                count++;
            }

            if (count >= occurrences)
            {
                return log;
            }

            if (DateTime.UtcNow > deadline)
            {
                var status = await vm.GetStatusAsync();
                throw new TimeoutException($"VM '{vm.Name}' printed '{text}' {count} of {occurrences} times (state {status.State}, last exit {status.LastExit}); serial: {log}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The next event of a kind (start the wait before causing it).</summary>
    public static async Task<VmEvent> WaitForEventAsync(IVirtualMachine vm, VmEventKind kind, CancellationToken cancellationToken)
    {
        await foreach (var e in vm.WatchAsync(cancellationToken))
        {
            if (e.Kind == kind)
            {
                return e;
            }
        }

        throw new InvalidOperationException($"the watch of VM '{vm.Name}' ended without a {kind} event");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var vm in await Manager.ListAsync())
        {
            await vm.KillAsync();
        }

        await Manager.DisposeAsync();
        Directory.Delete(StateDirectory, recursive: true);

        // The events seen during the test, typed: a failure here names the event and what did not fit.
        var untyped = Events.Untyped();
        if (untyped.Count > 0)
        {
            throw new InvalidOperationException($"{untyped.Count} of {Events.Events.Count} QMP events did not read into their generated classes: {string.Join("; ", untyped)}");
        }
    }
}
