using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Virt.Kvm.Qmp.Api;

namespace Virt.Kvm.Qmp;

/// <summary>
/// The typed QMP API. Every command is generated from QEMU's own schema (QmpCommands.g.cs); the few
/// here are written by hand because they need more than one JSON call: <c>quit</c> races the socket
/// close, <c>getfd</c> and <c>add-fd</c> pass a file descriptor with the command.
/// </summary>
public static partial class QmpCommands
{
    /// <summary>
    /// Runs <c>quit</c>: ends QEMU at once. QEMU may close the socket before its reply arrives; that
    /// race counts as success here.
    /// </summary>
    /// <param name="client">The connected client.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU acknowledged or closed the connection.</returns>
    public static async Task QuitAsync(this QmpClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            await RunAsync(client, "quit", null, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpConnectionException) when (client.IsConnected is false)
        {
            // The reply to quit races the socket close: a closed connection is the expected outcome.
        }
    }

    /// <summary>Runs <c>getfd</c>: passes an open file descriptor to QEMU under a name (for <c>netdev_add</c>, <c>add_client</c>...).</summary>
    /// <param name="client">The connected client.</param>
    /// <param name="arguments">The name QEMU files it under.</param>
    /// <param name="descriptor">The open descriptor; the caller keeps and closes its own copy.</param>
    /// <param name="options">Deadline for this call.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU holds the descriptor.</returns>
    public static Task GetfdAsync(this QmpClient client, GetfdArguments arguments, SafeHandle descriptor, QmpCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentException.ThrowIfNullOrWhiteSpace(arguments.Fdname, nameof(arguments));
        return client.ExecuteWithDescriptorsAsync<GetfdArguments, JsonElement>("getfd", arguments, QmpApiJsonContext.Default.GetfdArguments, null, [descriptor], options, cancellationToken);
    }

    /// <summary>
    /// Runs <c>add-fd</c>: adds an open descriptor to an fd set, which QEMU then opens as
    /// <c>/dev/fdset/N</c> wherever it takes a file name (block nodes, chardevs) — the way to give a
    /// sandboxed QEMU files it may not open itself.
    /// </summary>
    /// <param name="client">The connected client.</param>
    /// <param name="descriptor">The open descriptor; the caller keeps and closes its own copy.</param>
    /// <param name="arguments">The fd set to add to (none: a new one) and a note QEMU keeps with it.</param>
    /// <param name="options">Deadline for this call.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The fd set and QEMU's descriptor number.</returns>
    public static Task<AddFdResult> AddFdAsync(this QmpClient client, SafeHandle descriptor, AddFdArguments? arguments = null, QmpCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteWithDescriptorsAsync("add-fd", arguments ?? new AddFdArguments(), QmpApiJsonContext.Default.AddFdArguments, QmpApiJsonContext.Default.AddFdResult, [descriptor], options, cancellationToken);
    }

    private static Task<TResult> CallAsync<TResult>(QmpClient client, string command, JsonTypeInfo<TResult> resultType, QmpCallOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync(command, null, QmpJsonContext.Default.JsonObject, resultType, options, cancellationToken);
    }

    private static Task<TResult> CallAsync<TArguments, TResult>(QmpClient client, string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, JsonTypeInfo<TResult> resultType, QmpCallOptions? options, CancellationToken cancellationToken)
        where TArguments : class
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync(command, arguments, argumentsType, resultType, options, cancellationToken);
    }

    private static Task RunAsync(QmpClient client, string command, QmpCallOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync<JsonObject, JsonElement>(command, null, QmpJsonContext.Default.JsonObject, null, options, cancellationToken);
    }

    private static Task RunAsync<TArguments>(QmpClient client, string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, QmpCallOptions? options, CancellationToken cancellationToken)
        where TArguments : class
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.ExecuteAsync<TArguments, JsonElement>(command, arguments, argumentsType, null, options, cancellationToken);
    }
}
