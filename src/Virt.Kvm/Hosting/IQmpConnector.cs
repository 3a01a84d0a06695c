using Virt.Kvm.GuestAgent;
using Virt.Kvm.Qmp;

namespace Virt.Kvm.Hosting;

/// <summary>Opens QMP and guest-agent connections with the options and logging registered by <c>AddKvm()</c>.</summary>
public interface IQmpConnector
{
    /// <summary>Connects to a QMP monitor socket.</summary>
    /// <param name="socketPath">The socket's path.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>A connected client.</returns>
    Task<QmpClient> ConnectQmpAsync(string socketPath, CancellationToken cancellationToken = default);

    /// <summary>Connects to a guest-agent socket.</summary>
    /// <param name="socketPath">The socket's path.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>A client; the agent may not answer until the guest has booted.</returns>
    Task<GuestAgentClient> ConnectGuestAgentAsync(string socketPath, CancellationToken cancellationToken = default);
}
