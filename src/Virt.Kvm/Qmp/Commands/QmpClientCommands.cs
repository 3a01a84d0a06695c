using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Qmp;

/// <summary>
/// Typed QMP commands the KVM backend needs first. Every other command is reachable through
/// <see cref="QmpClient.ExecuteAsync(string, JsonObject?, QmpCallOptions?, CancellationToken)"/>.
/// </summary>
public static class QmpClientCommands
{
    private static JsonObject? NoArguments => null;

    /// <summary><c>query-status</c>: whether the VM runs and its run state.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The run state.</returns>
    public static Task<QmpStatusInfo> QueryStatusAsync(this QmpClient client, CancellationToken cancellationToken = default) =>
        Query(client, "query-status", QmpJsonContext.Default.QmpStatusInfo, cancellationToken);

    /// <summary><c>query-version</c>: QEMU's version.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The version.</returns>
    public static Task<QmpVersionInfo> QueryVersionAsync(this QmpClient client, CancellationToken cancellationToken = default) =>
        Query(client, "query-version", QmpJsonContext.Default.QmpVersionInfo, cancellationToken);

    /// <summary><c>query-name</c>: the VM's <c>-name</c>.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The name, if any.</returns>
    public static Task<QmpNameInfo> QueryNameAsync(this QmpClient client, CancellationToken cancellationToken = default) =>
        Query(client, "query-name", QmpJsonContext.Default.QmpNameInfo, cancellationToken);

    /// <summary><c>query-block</c>: the block devices and their media.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>One entry per block device.</returns>
    public static async Task<IReadOnlyList<QmpBlockInfo>> QueryBlockAsync(this QmpClient client, CancellationToken cancellationToken = default) =>
        await Query(client, "query-block", QmpJsonContext.Default.QmpBlockInfoArray, cancellationToken).ConfigureAwait(false);

    /// <summary><c>query-cpus-fast</c>: the vCPUs and their host threads.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>One entry per vCPU.</returns>
    public static async Task<IReadOnlyList<QmpCpuInfoFast>> QueryCpusFastAsync(this QmpClient client, CancellationToken cancellationToken = default) =>
        await Query(client, "query-cpus-fast", QmpJsonContext.Default.QmpCpuInfoFastArray, cancellationToken).ConfigureAwait(false);

    /// <summary><c>stop</c>: pauses the vCPUs.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU acknowledged.</returns>
    public static Task StopAsync(this QmpClient client, CancellationToken cancellationToken = default) => Run(client, "stop", cancellationToken);

    /// <summary><c>cont</c>: resumes the vCPUs (also starts a VM launched with <c>-S</c>).</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU acknowledged.</returns>
    public static Task ContAsync(this QmpClient client, CancellationToken cancellationToken = default) => Run(client, "cont", cancellationToken);

    /// <summary>
    /// <c>system_powerdown</c>: presses the ACPI power button. QEMU answers at once and emits
    /// <c>POWERDOWN</c>; the guest decides whether and when to shut down (then <c>SHUTDOWN</c>).
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU acknowledged.</returns>
    public static Task SystemPowerdownAsync(this QmpClient client, CancellationToken cancellationToken = default) => Run(client, "system_powerdown", cancellationToken);

    /// <summary><c>system_reset</c>: resets the VM like a hardware reset button.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU acknowledged.</returns>
    public static Task SystemResetAsync(this QmpClient client, CancellationToken cancellationToken = default) => Run(client, "system_reset", cancellationToken);

    /// <summary>
    /// <c>quit</c>: ends QEMU at once. QEMU may close the socket before its reply arrives; that race
    /// counts as success here.
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU acknowledged or closed the connection.</returns>
    public static async Task QuitAsync(this QmpClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            await Run(client, "quit", cancellationToken).ConfigureAwait(false);
        }
        catch (QmpConnectionException) when (client.IsConnected is false && client.Completion.IsCompleted)
        {
            // The reply to quit races the socket close: a closed connection is the expected outcome.
        }
    }

    /// <summary><c>blockdev-add</c>: adds a block node graph.</summary>
    /// <param name="client">The client.</param>
    /// <param name="options">The blockdev options, e.g. <c>{"driver":"qcow2","node-name":"disk0","file":{"driver":"file","filename":"/a.qcow2"}}</c>; <c>node-name</c> is required.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the node exists.</returns>
    public static Task BlockdevAddAsync(this QmpClient client, JsonObject options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        if (options["node-name"] is not JsonValue nodeName || !nodeName.TryGetValue<string>(out var name) || string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("blockdev-add needs a top-level \"node-name\" so that the node can be found and deleted again", nameof(options));
        }

        if (options["driver"] is null)
        {
            throw new ArgumentException($"blockdev-add of '{name}' needs a \"driver\" (e.g. qcow2, raw, file)", nameof(options));
        }

        return client.ExecuteAsync("blockdev-add", options, cancellationToken: cancellationToken);
    }

    /// <summary><c>blockdev-del</c>: deletes a block node that no device uses any more.</summary>
    /// <param name="client">The client.</param>
    /// <param name="nodeName">The node name.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the node is gone.</returns>
    public static Task BlockdevDelAsync(this QmpClient client, string nodeName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(nodeName);
        return client.ExecuteAsync<NodeNameArguments, object>("blockdev-del", new NodeNameArguments(nodeName), QmpJsonContext.Default.NodeNameArguments, null, cancellationToken: cancellationToken);
    }

    /// <summary><c>device_add</c>: plugs a device.</summary>
    /// <param name="client">The client.</param>
    /// <param name="driver">The device model, e.g. "virtio-blk-pci".</param>
    /// <param name="id">The device id, used later by <c>device_del</c>.</param>
    /// <param name="properties">Further properties (bus, drive, addr...).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU added the device.</returns>
    public static Task DeviceAddAsync(this QmpClient client, string driver, string id, JsonObject? properties = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(driver);
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        var arguments = properties is null ? new JsonObject() : (JsonObject)properties.DeepClone();
        if (arguments.ContainsKey("driver") || arguments.ContainsKey("id"))
        {
            throw new ArgumentException($"pass the driver and id of device '{id}' as parameters, not inside properties", nameof(properties));
        }

        arguments["driver"] = driver;
        arguments["id"] = id;
        return client.ExecuteAsync("device_add", arguments, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// <c>device_del</c>: asks to unplug a device. QEMU answers before the guest releases it: wait for
    /// <c>DEVICE_DELETED</c> (start <see cref="QmpClient.WaitForEventAsync"/> before calling this).
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="id">The device id.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU accepted the request.</returns>
    public static Task DeviceDelAsync(this QmpClient client, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return client.ExecuteAsync<IdArguments, object>("device_del", new IdArguments(id), QmpJsonContext.Default.IdArguments, null, cancellationToken: cancellationToken);
    }

    /// <summary><c>human-monitor-command</c>: runs an HMP command and returns its text output.</summary>
    /// <param name="client">The client.</param>
    /// <param name="commandLine">The HMP command line, e.g. "info qtree".</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The HMP output.</returns>
    public static Task<string> HumanMonitorCommandAsync(this QmpClient client, string commandLine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(commandLine);
        return client.ExecuteAsync("human-monitor-command", new HumanMonitorArguments(commandLine, null), QmpJsonContext.Default.HumanMonitorArguments, QmpJsonContext.Default.String, cancellationToken: cancellationToken);
    }

    /// <summary><c>getfd</c>: passes an open file descriptor to QEMU under a name (for <c>netdev</c>, <c>add_client</c>...).</summary>
    /// <param name="client">The client.</param>
    /// <param name="name">The name QEMU files it under.</param>
    /// <param name="descriptor">The open descriptor; the caller keeps and closes its own copy.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU holds the descriptor.</returns>
    public static Task GetFdAsync(this QmpClient client, string name, SafeHandle descriptor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(descriptor);
        return client.ExecuteWithDescriptorsAsync<FdNameArguments, object>("getfd", new FdNameArguments(name), QmpJsonContext.Default.FdNameArguments, null, [descriptor], cancellationToken: cancellationToken);
    }

    /// <summary><c>closefd</c>: closes a descriptor passed with <see cref="GetFdAsync"/>.</summary>
    /// <param name="client">The client.</param>
    /// <param name="name">The name it was filed under.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU closed it.</returns>
    public static Task CloseFdAsync(this QmpClient client, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return client.ExecuteAsync<FdNameArguments, object>("closefd", new FdNameArguments(name), QmpJsonContext.Default.FdNameArguments, null, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// <c>add-fd</c>: adds an open descriptor to an fd set, which QEMU then opens as <c>/dev/fdset/N</c>
    /// wherever it takes a file name (block nodes, chardevs) — the way to give a sandboxed QEMU files it may not open itself.
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="descriptor">The open descriptor; the caller keeps and closes its own copy.</param>
    /// <param name="fdsetId">The fd set to add to; <see langword="null"/> lets QEMU choose a new one.</param>
    /// <param name="opaque">A free-form note QEMU keeps with the descriptor.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The fd set and QEMU's descriptor number.</returns>
    public static Task<QmpAddFdInfo> AddFdAsync(this QmpClient client, SafeHandle descriptor, int? fdsetId = null, string? opaque = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(descriptor);
        return client.ExecuteWithDescriptorsAsync("add-fd", new AddFdArguments(fdsetId, opaque), QmpJsonContext.Default.AddFdArguments, QmpJsonContext.Default.QmpAddFdInfo, [descriptor], cancellationToken: cancellationToken);
    }

    /// <summary><c>remove-fd</c>: removes one descriptor, or a whole fd set, added with <see cref="AddFdAsync"/>.</summary>
    /// <param name="client">The client.</param>
    /// <param name="fdsetId">The fd set.</param>
    /// <param name="fd">QEMU's descriptor number within it; <see langword="null"/> removes the whole set.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU removed it.</returns>
    public static Task RemoveFdAsync(this QmpClient client, int fdsetId, int? fd = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync<RemoveFdArguments, object>("remove-fd", new RemoveFdArguments(fdsetId, fd), QmpJsonContext.Default.RemoveFdArguments, null, cancellationToken: cancellationToken);
    }

    private static Task<T> Query<T>(QmpClient client, string command, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> resultType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync(command, NoArguments, QmpJsonContext.Default.JsonObject, resultType, cancellationToken: cancellationToken);
    }

    private static Task Run(QmpClient client, string command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync<JsonObject, object>(command, NoArguments, QmpJsonContext.Default.JsonObject, null, cancellationToken: cancellationToken);
    }
}
