using System.Text.Json.Serialization.Metadata;

namespace Virt.Kvm.Qmp.Api;

/// <summary>The generated data class of one QMP event.</summary>
/// <typeparam name="TSelf">The class.</typeparam>
public interface IQmpEventData<TSelf>
    where TSelf : class, IQmpEventData<TSelf>
{
    /// <summary>The event's name on the wire, e.g. "SHUTDOWN".</summary>
    static abstract string EventName { get; }

    /// <summary>The class's source-generated JSON metadata.</summary>
    static abstract JsonTypeInfo<TSelf> JsonTypeInfo { get; }
}
