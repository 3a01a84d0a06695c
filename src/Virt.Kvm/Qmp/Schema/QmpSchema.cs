using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Qmp;

/// <summary>
/// What a QEMU's <c>query-qmp-schema</c> says it accepts: its commands, their argument members
/// (flat unions included: the members depend on the discriminator) and its events. Used to refuse,
/// before sending, a command, argument or union case this QEMU does not have.
/// </summary>
public sealed class QmpSchema
{
    /// <summary>Commands that take free-form properties besides the listed members (QAPI <c>gen: false</c>).</summary>
    private static readonly FrozenSet<string> FreeFormCommands = new[] { "device_add" }.ToFrozenSet(StringComparer.Ordinal);

    private readonly FrozenDictionary<string, ArgumentShape?> _commandArguments;
    private readonly FrozenSet<string> _events;

    private QmpSchema(FrozenDictionary<string, ArgumentShape?> commandArguments, FrozenSet<string> events)
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

        var arguments = new Dictionary<string, ArgumentShape?>(StringComparer.Ordinal);
        foreach (var (name, argumentType) in commands)
        {
            arguments[name] = FreeFormCommands.Contains(name) ? null : ArgumentShape.Of(argumentType, objects);
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
    /// The argument members a command accepts whatever its arguments say, or <see langword="null"/> when
    /// they cannot be listed simply (free-form arguments, or a union whose members depend on its
    /// discriminator: see <see cref="FindUnsupportedArgument"/>).
    /// </summary>
    /// <param name="command">The command name.</param>
    /// <returns>The member names, or null.</returns>
    public IReadOnlySet<string>? ArgumentMembers(string command) =>
        _commandArguments.GetValueOrDefault(command) is { Tag: null } shape ? shape.Members : null;

    /// <summary>
    /// The first top-level argument (or union case, as <c>tag=value</c>) that this QEMU does not accept
    /// for the command, or <see langword="null"/> when every one is known.
    /// </summary>
    /// <param name="command">The command name.</param>
    /// <param name="arguments">The arguments about to be sent.</param>
    /// <returns>The unsupported member, or null.</returns>
    public string? FindUnsupportedArgument(string command, JsonObject arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (_commandArguments.GetValueOrDefault(command) is not { } shape)
        {
            return null;
        }

        IReadOnlySet<string> allowed = shape.Members;
        if (shape.Tag is { } tag && arguments[tag] is JsonValue tagValue && tagValue.TryGetValue<string>(out var @case))
        {
            if (!shape.Variants.TryGetValue(@case, out var variantMembers))
            {
                return $"{tag}={@case}";
            }

            allowed = variantMembers;
        }

        foreach (var (member, _) in arguments)
        {
            if (!allowed.Contains(member))
            {
                return member;
            }
        }

        return null;
    }

    /// <summary>The members an argument object takes: fixed ones, or a flat union's base plus each case's.</summary>
    private sealed record ArgumentShape(FrozenSet<string> Members, string? Tag, FrozenDictionary<string, FrozenSet<string>> Variants)
    {
        public static ArgumentShape? Of(string? typeName, Dictionary<string, JsonElement> objects)
        {
            if (typeName is null || !objects.TryGetValue(typeName, out var type))
            {
                return null;
            }

            var members = MemberNames(type).ToFrozenSet(StringComparer.Ordinal);
            if (!type.TryGetProperty("tag", out var tag) || !type.TryGetProperty("variants", out var variants))
            {
                return new ArgumentShape(members, null, FrozenDictionary<string, FrozenSet<string>>.Empty);
            }

            var cases = new Dictionary<string, FrozenSet<string>>(StringComparer.Ordinal);
            foreach (var variant in variants.EnumerateArray())
            {
                var names = new HashSet<string>(members, StringComparer.Ordinal);
                if (objects.TryGetValue(variant.GetProperty("type").GetString()!, out var variantType))
                {
                    names.UnionWith(MemberNames(variantType));

                    // A case that is itself a union: its cases' members are accepted too.
                    if (variantType.TryGetProperty("variants", out var nested))
                    {
                        foreach (var nestedCase in nested.EnumerateArray())
                        {
                            if (objects.TryGetValue(nestedCase.GetProperty("type").GetString()!, out var nestedType))
                            {
                                names.UnionWith(MemberNames(nestedType));
                            }
                        }
                    }
                }

                cases[variant.GetProperty("case").GetString()!] = names.ToFrozenSet(StringComparer.Ordinal);
            }

            return new ArgumentShape(members, tag.GetString(), cases.ToFrozenDictionary(StringComparer.Ordinal));
        }

        private static IEnumerable<string> MemberNames(JsonElement type) =>
            type.TryGetProperty("members", out var members) ? members.EnumerateArray().Select(m => m.GetProperty("name").GetString()!) : [];
    }
}
