namespace Virt.Kvm.Qmp.Wire;

/// <summary>
/// One parsed QMP line. Payloads (<c>return</c>, <c>data</c>, the greeting) are kept as byte ranges
/// into the line so that a reply is deserialized once, straight into the caller's type.
/// </summary>
internal readonly record struct QmpMessage
{
    public QmpMessageKind Kind { get; init; }

    /// <summary>The numeric id the SDK gave the command; <see langword="null"/> when absent or not a number.</summary>
    public long? Id { get; init; }

    /// <summary>Whether an <c>id</c> member was present at all (of any JSON type).</summary>
    public bool HasId { get; init; }

    /// <summary>Start of the payload: the value of <c>return</c>, of an event's <c>data</c>, or of <c>QMP</c>.</summary>
    public int PayloadStart { get; init; }

    /// <summary>Length of the payload in bytes; 0 when there is none.</summary>
    public int PayloadLength { get; init; }

    public string? ErrorClass { get; init; }

    public string? ErrorDescription { get; init; }

    public string? EventName { get; init; }

    public long TimestampSeconds { get; init; }

    public long TimestampMicroseconds { get; init; }
}
