using Microsoft.Extensions.Logging;
using Virt.Kvm.GuestAgent;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// <see cref="IVmGuest"/> over the VM's qemu-ga channel, usable from every process that manages the VM.
/// QEMU's agent chardev serves one client at a time, so no process keeps it open: each call takes the VM's
/// agent lock (<see cref="VmFiles.AgentLock"/>, in this process and across processes), connects, resynchronizes
/// (<c>guest-sync-delimited</c>, which discards whatever an earlier client left unread), pings within the sync
/// deadline (2 s by default), runs its command and disconnects. A missing or silent agent is a
/// <see cref="VmGuestAgentUnavailableException"/> within that deadline rather than a hang or a late error.
/// </summary>
internal sealed class KvmVmGuest : IVmGuest
{
    private readonly KvmVirtualMachine _vm;
    private readonly GuestAgentOptions _options;
    private readonly VmLock _agentLock;
    private readonly ILogger _logger;

    public KvmVmGuest(KvmVirtualMachine vm, GuestAgentOptions options, VmLock agentLock, ILoggerFactory loggerFactory)
    {
        _vm = vm;
        _options = options;
        _agentLock = agentLock;
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

    /// <summary>One agent operation on its own connection, under the agent lock for its whole length (a guest-exec's polling included).</summary>
    private async Task<T> RunAsync<T>(string operation, Func<GuestAgentClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        if (!_vm.Spec.GuestAgent)
        {
            throw new VmGuestAgentUnavailableException(_vm.Name, operation, "its spec has no guest-agent channel (VmSpec.GuestAgent is false); enable it and restart the VM");
        }

        // A run started, or ended, by another process is seen here first.
        await _vm.RefreshViewAsync(cancellationToken).ConfigureAwait(false);
        if (_vm.CurrentRun is null)
        {
            throw new VmGuestAgentUnavailableException(_vm.Name, operation, "the VM is not running; start it first");
        }

        // Times out naming the holder (pid and operation) when another call keeps the agent busy.
        using var held = await _agentLock.AcquireAsync(operation, cancellationToken).ConfigureAwait(false);
        GuestAgentClient agent;
        try
        {
            agent = await GuestAgentClient.ConnectAsync(_vm.Files.AgentSocket, _options, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (GuestAgentConnectionException ex)
        {
            throw new VmGuestAgentUnavailableException(_vm.Name, operation, ex.Message, ex);
        }

        await using (agent.ConfigureAwait(false))
        {
            try
            {
                // The first command on a new connection resynchronizes the channel first.
                await agent.PingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is GuestAgentTimeoutException or GuestAgentConnectionException)
            {
                throw new VmGuestAgentUnavailableException(
                    _vm.Name,
                    operation,
                    $"the agent did not answer ({ex.Message}); check that qemu-ga runs in the guest (it starts late in boot) and that the VM is not paused",
                    ex);
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
    }
}
