using System.Collections.Concurrent;
using Virt.Containers;

namespace Virt.Testing;

/// <summary>
/// An <see cref="IContainerManager"/> that keeps its containers in memory. It validates specs with the
/// LXC backend's validator and throws the exceptions that backend throws
/// (<see cref="InvalidContainerSpecException"/>, <see cref="ContainerAlreadyExistsException"/>,
/// <see cref="ContainerNotFoundException"/>, <see cref="ContainerStateException"/>), so code under test sees
/// the same contract without LXC or root. No rootfs is built: each container starts with an empty busybox-like tree.
/// </summary>
public sealed class InMemoryContainerManager : IContainerManager
{
    /// <summary>What <see cref="ContainerNotFoundException"/> names as the state directory.</summary>
    public const string StateDirectory = "(in memory)";

    private readonly ConcurrentDictionary<string, InMemoryContainer> _containers = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ManagedNicPorts _networkPorts;

    /// <summary>Creates an empty manager.</summary>
    /// <param name="time">The clock for event times, command durations and timeouts; <see langword="null"/> for the system clock.</param>
    /// <param name="networkPorts">
    /// Puts NICs on managed networks (<see cref="ContainerNic.Network"/>) as the LXC backend does — prepared and connected at
    /// start, released at stop, kill, failed start and delete — e.g. an <see cref="InMemoryNetworkPorts"/>. Optional: without
    /// it a container with such a NIC does not start, as without <c>AddNetwork()</c>.
    /// </param>
    public InMemoryContainerManager(TimeProvider? time = null, Virt.Networking.INetworkPorts? networkPorts = null)
    {
        _time = time ?? TimeProvider.System;
        _networkPorts = new ManagedNicPorts(networkPorts);
    }

    /// <inheritdoc/>
    public Task<IContainer> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        ContainerSpecValidator.Validate(spec);
        var container = new InMemoryContainer(spec, _time, _networkPorts);
        return _containers.TryAdd(spec.Name, container)
            ? Task.FromResult<IContainer>(container)
            : throw new ContainerAlreadyExistsException(spec.Name);
    }

    /// <inheritdoc/>
    public Task<IContainer> GetAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult<IContainer>(Find(name));

    /// <inheritdoc/>
    public Task<IReadOnlyList<IContainer>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<IContainer>>([.. _containers.Values.OrderBy(container => container.Name, StringComparer.Ordinal)]);

    /// <inheritdoc/>
    public async Task DeleteAsync(string name, bool force = false, CancellationToken cancellationToken = default)
    {
        var container = Find(name);
        var state = container.State;
        if (state != ContainerState.Stopped)
        {
            if (!force)
            {
                throw new ContainerStateException(name, "delete", state, "stop it first, or pass force: true to kill it");
            }

            await container.KillAsync(cancellationToken).ConfigureAwait(false);
        }

        await _networkPorts.ReleaseAsync("ct:" + name).ConfigureAwait(false);
        _containers.TryRemove(name, out _);
        container.Complete();
    }

    // A name that is not a valid container name is simply not found, as with the LXC backend.
    private InMemoryContainer Find(string name) =>
        name is not null && _containers.TryGetValue(name, out var container) ? container : throw new ContainerNotFoundException(name!, StateDirectory);
}
