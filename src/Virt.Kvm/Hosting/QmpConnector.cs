using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Kvm.GuestAgent;
using Virt.Kvm.Qmp;

namespace Virt.Kvm.Hosting;

/// <summary>The default <see cref="IQmpConnector"/>.</summary>
internal sealed class QmpConnector(KvmOptions options, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null) : IQmpConnector
{
    private readonly ILoggerFactory _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;

    public Task<QmpClient> ConnectQmpAsync(string socketPath, CancellationToken cancellationToken = default) =>
        QmpClient.ConnectAsync(socketPath, options.Qmp with { TimeProvider = timeProvider }, _loggerFactory.CreateLogger<QmpClient>(), cancellationToken);

    public Task<GuestAgentClient> ConnectGuestAgentAsync(string socketPath, CancellationToken cancellationToken = default) =>
        GuestAgentClient.ConnectAsync(socketPath, options.GuestAgent with { TimeProvider = timeProvider }, _loggerFactory.CreateLogger<GuestAgentClient>(), cancellationToken);
}
