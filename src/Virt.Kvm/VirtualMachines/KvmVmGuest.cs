using Microsoft.Extensions.Logging;
using Virt.Kvm.GuestAgent;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// <see cref="IVmGuest"/> over the VM's qemu-ga channel. One agent connection per run of the VM,
/// opened on first use; every call first pings the agent (its sync deadline, 2 s by default), so a
/// missing or silent agent is a <see cref="VmGuestAgentUnavailableException"/> within that deadline
/// rather than a hang or a late error from the command itself.
/// </summary>
internal sealed class KvmVmGuest : IVmGuest, IAsyncDisposable
{
    private readonly KvmVirtualMachine _vm;
    private readonly GuestAgentOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private GuestAgentClient? _client;
    private RunningQemu? _clientRun;

    public KvmVmGuest(KvmVirtualMachine vm, GuestAgentOptions options, ILoggerFactory loggerFactory)
    {
        _vm = vm;
        _options = options;
        _logger = loggerFactory.CreateLogger<GuestAgentClient>();
    }

    public Task PingAsync(CancellationToken cancellationToken = default) =>
        RunAsync("guest-ping", static (_, _) => Task.FromResult(true), cancellationToken);

    public Task<GuestOsInfo> GetOsInfoAsync(CancellationToken cancellationToken = default) =>
        RunAsync("guest-get-osinfo", static (agent, ct) => agent.GetOsInfoAsync(ct), cancellationToken);

    public Task<IReadOnlyList<GuestNetworkInterface>> GetNetworkInterfacesAsync(CancellationToken cancellationToken = default) =>
        RunAsync("guest-network-get-interfaces", static (agent, ct) => agent.GetNetworkInterfacesAsync(ct), cancellationToken);

    public Task<GuestExecResult> ExecAsync(string path, IReadOnlyList<string>? arguments = null, byte[]? standardInput = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return RunAsync("guest-exec " + path, (agent, ct) => agent.ExecAsync(path, arguments, standardInput, timeout, ct), cancellationToken);
    }

    public Task<int> FreezeFileSystemsAsync(CancellationToken cancellationToken = default) =>
        RunAsync("guest-fsfreeze-freeze", static (agent, ct) => agent.FreezeFileSystemsAsync(ct), cancellationToken);

    public Task<int> ThawFileSystemsAsync(CancellationToken cancellationToken = default) =>
        RunAsync("guest-fsfreeze-thaw", static (agent, ct) => agent.ThawFileSystemsAsync(ct), cancellationToken);

    public Task ShutdownAsync(GuestShutdownMode mode = GuestShutdownMode.Powerdown, CancellationToken cancellationToken = default) =>
        RunAsync("guest-shutdown", async (agent, ct) =>
        {
            await agent.ShutdownAsync(mode, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await DropAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<T> RunAsync<T>(string operation, Func<GuestAgentClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        if (!_vm.Spec.GuestAgent)
        {
            throw new VmGuestAgentUnavailableException(_vm.Name, operation, "its spec has no guest-agent channel (VmSpec.GuestAgent is false); enable it and restart the VM");
        }

        GuestAgentClient agent;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var run = _vm.CurrentRun ?? throw new VmGuestAgentUnavailableException(_vm.Name, operation, "the VM is not running; start it first");
            if (_client is null || !ReferenceEquals(_clientRun, run))
            {
                await DropAsync().ConfigureAwait(false);
                try
                {
                    _client = await GuestAgentClient.ConnectAsync(_vm.Files.AgentSocket, _options, _logger, cancellationToken).ConfigureAwait(false);
                    _clientRun = run;
                }
                catch (GuestAgentConnectionException ex)
                {
                    throw new VmGuestAgentUnavailableException(_vm.Name, operation, ex.Message, ex);
                }
            }

            agent = _client;
            try
            {
                await agent.PingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is GuestAgentTimeoutException or GuestAgentConnectionException)
            {
                await DropAsync().ConfigureAwait(false);
                throw new VmGuestAgentUnavailableException(
                    _vm.Name,
                    operation,
                    $"the agent did not answer ({ex.Message}); check that qemu-ga runs in the guest (it starts late in boot) and that the VM is not paused",
                    ex);
            }
        }
        finally
        {
            _gate.Release();
        }

        try
        {
            return await call(agent, cancellationToken).ConfigureAwait(false);
        }
        catch (GuestAgentConnectionException ex)
        {
            throw new VmGuestAgentUnavailableException(_vm.Name, operation, ex.Message, ex);
        }
    }

    private async Task DropAsync()
    {
        if (_client is { } client)
        {
            _client = null;
            _clientRun = null;
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
