using System.Text.Json;

namespace Virt.Kvm.Qmp.Api;

/// <summary>Typed access to QMP events through their generated data classes.</summary>
public static class QmpEventExtensions
{
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;

    /// <summary>The event's data as its generated class.</summary>
    /// <typeparam name="T">The data class, e.g. <see cref="ShutdownEvent"/>.</typeparam>
    /// <param name="qmpEvent">The event.</param>
    /// <returns>The typed data.</returns>
    /// <exception cref="ArgumentException">The event is another event.</exception>
    /// <exception cref="JsonException">The data does not fit the class.</exception>
    public static T As<T>(this QmpEvent qmpEvent)
        where T : class, IQmpEventData<T>
    {
        ArgumentNullException.ThrowIfNull(qmpEvent);
        if (qmpEvent.Name != T.EventName)
        {
            throw new ArgumentException($"event '{qmpEvent.Name}' is not {T.EventName}; check its Name first or use ToTyped()", nameof(qmpEvent));
        }

        return (qmpEvent.Data ?? EmptyObject).Deserialize(T.JsonTypeInfo)!;
    }

    /// <summary>Waits for the next event of a type, typed.</summary>
    /// <typeparam name="T">The event's data class.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="predicate">Which event of that type; null takes the first.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The event's data.</returns>
    public static async Task<T> WaitForEventAsync<T>(this QmpClient client, Func<T, bool>? predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
        where T : class, IQmpEventData<T>
    {
        ArgumentNullException.ThrowIfNull(client);
        var qmpEvent = await client.WaitForEventAsync(T.EventName, predicate is null ? null : e => predicate(e.As<T>()), timeout, cancellationToken).ConfigureAwait(false);
        return qmpEvent.As<T>();
    }
}
