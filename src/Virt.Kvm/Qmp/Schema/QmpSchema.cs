using System.Collections.Frozen;
using System.Text.Json;

namespace Virt.Kvm.Qmp;

/// <summary>
/// What a QEMU's <c>query-qmp-schema</c> says it accepts: its commands, their argument members and
/// its events. Used to refuse, before sending, a command or argument this QEMU does not have.
/// </summary>
public sealed class QmpSchema
{
    private readonly FrozenDictionary<string, FrozenSet<string>?> _commandArguments;
    private readonly FrozenSet<string> _events;

    private QmpSchema(FrozenDictionary<string, FrozenSet<string>?> commandArguments, FrozenSet<string> events)
    {
        _commandArguments = commandArguments;
        _events = events;
    }

    /// <summary>Every command name.</summary>
    public IReadOnlyCollection<string> Commands => _commandArguments.Keys;

    /// <summary>Every event name.</summary>
    public IReadOnlyCollection<string> Events => _events;

    /// <summary>Reads the reply to <c>query-qmp-schema</c>.</summary>
    /// <param name="schema">The array QEMU returned.</param>
    /// <returns>The schema.</returns>
    /// <exception cref="JsonException">It is not a QMP schema.</exception>
    public static QmpSchema Parse(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("query-qmp-schema returns an array of schema entries");
        }

        var objects = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var commands = new List<(string Name, string? ArgumentType)>();
        var events = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in schema.EnumerateArray())
        {
            var name = entry.GetProperty("name").GetString()!;
            switch (entry.GetProperty("meta-type").GetString())
            {
                case "command":
                    commands.Add((name, entry.TryGetProperty("arg-type", out var argumentType) ? argumentType.GetString() : null));
                    break;
                case "event":
                    events.Add(name);
                    break;
                case "object":
                    objects[name] = entry;
                    break;
            }
        }

        var arguments = new Dictionary<string, FrozenSet<string>?>(StringComparer.Ordinal);
        foreach (var (name, argumentType) in commands)
        {
            arguments[name] = MembersOf(argumentType, objects);
        }

        return new QmpSchema(arguments.ToFrozenDictionary(StringComparer.Ordinal), events.ToFrozenSet(StringComparer.Ordinal));
    }

    /// <summary>Whether this QEMU has the command.</summary>
    /// <param name="command">The command name.</param>
    /// <returns>True when it does.</returns>
    public bool HasCommand(string command) => _commandArguments.ContainsKey(command);

    /// <summary>Whether this QEMU emits the event.</summary>
    /// <param name="name">The event name.</param>
    /// <returns>True when it does.</returns>
    public bool HasEvent(string name) => _events.Contains(name);

    /// <summary>
    /// The argument members a command accepts, or <see langword="null"/> when they cannot be listed
    /// simply (arguments that are a union, or a command with <c>allow-oob</c> boxed arguments).
    /// </summary>
    /// <param name="command">The command name.</param>
    /// <returns>The member names, or null.</returns>
    public IReadOnlySet<string>? ArgumentMembers(string command) => _commandArguments.GetValueOrDefault(command);

    private static FrozenSet<string>? MembersOf(string? typeName, Dictionary<string, JsonElement> objects)
    {
        if (typeName is null || !objects.TryGetValue(typeName, out var type))
        {
            return null;
        }

        // Unions (a tag with variants) take members that depend on the tag: not checked here.
        if (type.TryGetProperty("variants", out var variants) && variants.GetArrayLength() > 0)
        {
            return null;
        }

        return type.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("name").GetString()!).ToFrozenSet(StringComparer.Ordinal);
    }
}
