namespace Virt.Kvm.Qmp.Wire;

/// <summary>The kinds of line a QMP server sends.</summary>
internal enum QmpMessageKind
{
    /// <summary>A JSON object that is none of the below: a protocol violation.</summary>
    Unknown,

    /// <summary><c>{"QMP": {...}}</c>, the first line of a connection.</summary>
    Greeting,

    /// <summary><c>{"return": ..., "id": ...}</c>.</summary>
    Return,

    /// <summary><c>{"error": {"class": ..., "desc": ...}, "id": ...}</c>.</summary>
    Error,

    /// <summary><c>{"event": ..., "data": ..., "timestamp": ...}</c>.</summary>
    Event,
}
