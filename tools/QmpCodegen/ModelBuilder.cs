using System.Text.Json;

namespace Virt.Tools.QmpCodegen;

/// <summary>
/// Names the schema's anonymous types from where they are first met and merges every captured QEMU
/// version into one <see cref="ApiModel"/>.
/// </summary>
/// <remarks>
/// <c>query-qmp-schema</c> masks type names ("291", "[17]"), and the numbers differ between QEMU
/// builds. A type is therefore named from its first position in a fixed walk — commands that every
/// version has (sorted), their arguments then results; events likewise; then the version-specific
/// ones — and members present in every version are walked before the others. The walk runs over all
/// versions at once, so the same position gives the same name in each, which is what lets the
/// versions be merged by name.
/// </remarks>
public sealed class ModelBuilder
{
    private static readonly HashSet<string> Builtins = new(StringComparer.Ordinal) { "str", "int", "number", "bool", "any", "null" };

    private readonly IReadOnlyList<SchemaFile> _schemas;
    private readonly Dictionary<(int Version, string Id), string> _names = [];
    private readonly Dictionary<string, List<(int Version, string Id)>> _owners = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _origins = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Dictionary<(int Version, string UnionId, string Case), string> _derived = [];

    private ModelBuilder(IReadOnlyList<SchemaFile> schemas)
    {
        _schemas = schemas;
    }

    /// <summary>Builds the merged model of the captured schemas, oldest first.</summary>
    public static ApiModel Build(IReadOnlyList<SchemaFile> schemas)
    {
        var builder = new ModelBuilder(schemas);
        return builder.Run();
    }

    private ApiModel Run()
    {
        var model = new ApiModel { Schemas = _schemas };
        var allCommands = _schemas.SelectMany(s => s.Commands).Distinct().ToList();
        var allEvents = _schemas.SelectMany(s => s.Events).Distinct().ToList();
        var commandOrder = allCommands.OrderBy(c => InAll(s => s.Commands.Contains(c)) ? 0 : 1).ThenBy(c => c, StringComparer.Ordinal).ToList();
        var eventOrder = allEvents.OrderBy(e => InAll(s => s.Events.Contains(e)) ? 0 : 1).ThenBy(e => e, StringComparer.Ordinal).ToList();
        var commonCommands = commandOrder.Where(c => InAll(s => s.Commands.Contains(c))).ToList();
        var commonEvents = eventOrder.Where(e => InAll(s => s.Events.Contains(e))).ToList();

        // Walk: common commands, common events, then the version-specific ones.
        var commands = new Dictionary<string, ApiCommand>(StringComparer.Ordinal);
        var events = new Dictionary<string, ApiEvent>(StringComparer.Ordinal);
        foreach (var command in commonCommands.Concat(commandOrder.Except(commonCommands)))
        {
            commands[command] = WalkCommand(command);
        }

        foreach (var name in commonEvents.Concat(eventOrder.Except(commonEvents)))
        {
            events[name] = WalkEvent(name);
        }

        // Merge the named types.
        foreach (var name in _order)
        {
            if (MergeNamed(name) is { } type)
            {
                model.Types.Add(type);
            }
        }

        foreach (var command in commandOrder)
        {
            model.Commands.Add(commands[command]);
        }

        model.Commands.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var name in eventOrder)
        {
            var apiEvent = events[name];
            model.Events.Add(apiEvent);
            model.Types.Add(MergeSynthetic(apiEvent.ClassName, $"event {name}", EventData(name)));
        }

        model.Events.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var command in model.Commands.Where(c => c.Arguments is not null && !_owners.ContainsKey(c.Arguments)))
        {
            model.Types.Add(MergeSynthetic(command.Arguments!, $"command {command.Name}, arguments", CommandPart(command.Name, "arg-type")));
        }

        return model;
    }

    private bool InAll(Func<SchemaFile, bool> predicate) => _schemas.All(predicate);

    private Dictionary<int, string> CommandPart(string command, string part)
    {
        var ids = new Dictionary<int, string>();
        for (var v = 0; v < _schemas.Count; v++)
        {
            if (_schemas[v].Entities.TryGetValue(command, out var entity) && entity.GetProperty("meta-type").GetString() == "command")
            {
                ids[v] = entity.GetProperty(part).GetString()!;
            }
        }

        return ids;
    }

    private Dictionary<int, string> EventData(string name)
    {
        var ids = new Dictionary<int, string>();
        for (var v = 0; v < _schemas.Count; v++)
        {
            if (_schemas[v].Entities.TryGetValue(name, out var entity) && entity.GetProperty("meta-type").GetString() == "event")
            {
                ids[v] = entity.GetProperty("arg-type").GetString()!;
            }
        }

        return ids;
    }

    private ApiCommand WalkCommand(string name)
    {
        var command = new ApiCommand { Name = name };
        var arguments = CommandPart(name, "arg-type");
        foreach (var (v, _) in arguments)
        {
            command.Versions.Add(v);
            var entity = _schemas[v].Entities[name];
            command.AllowOutOfBand |= entity.TryGetProperty("allow-oob", out var oob) && oob.GetBoolean();
            if (entity.TryGetProperty("features", out var features))
            {
                foreach (var feature in features.EnumerateArray())
                {
                    command.Features.Add(feature.GetString()!);
                }
            }
        }

        var pascal = Identifiers.Pascal(name);
        var newest = arguments.MaxBy(kv => kv.Key);
        var newestArguments = _schemas[newest.Key].Entities[newest.Value];
        if (IsEmptyObject(newest.Key, newest.Value))
        {
            command.Arguments = null;
        }
        else if (HasVariants(newestArguments))
        {
            // Boxed union arguments (blockdev-add): the union is a type of its own.
            command.Arguments = Visit(pascal + "Arguments", arguments, $"command {name}, arguments");
            command.ArgumentsOptional = false;
        }
        else
        {
            // Each command gets its own argument class, even where commands share an argument type.
            var className = Reserve(pascal + "Arguments");
            command.Arguments = className;
            _origins[className] = $"command {name}, arguments";
            VisitMembers(className, arguments, $"command {name}, arguments");
            command.ArgumentsOptional = arguments.All(kv => Members(kv.Key, kv.Value).All(m => m.TryGetProperty("default", out _)));
        }

        var results = CommandPart(name, "ret-type");
        var newestResult = results.MaxBy(kv => kv.Key);
        if (!IsEmptyObject(newestResult.Key, newestResult.Value))
        {
            Visit(pascal + "Result", results, $"command {name}, result");
            command.Result = Resolve(newestResult.Key, newestResult.Value);
        }

        return command;
    }

    private ApiEvent WalkEvent(string name)
    {
        var data = EventData(name);
        var className = Reserve(Identifiers.Pascal(name) + "Event");
        _origins[className] = $"event {name}";
        VisitMembers(className, data, $"event {name}");
        var apiEvent = new ApiEvent { Name = name, ClassName = className };
        foreach (var v in data.Keys)
        {
            apiEvent.Versions.Add(v);
        }

        return apiEvent;
    }

    private string Reserve(string proposed)
    {
        var name = proposed;
        for (var i = 2; _reserved.Contains(name) || _owners.ContainsKey(name); i++)
        {
            name = proposed + i;
        }

        _reserved.Add(name);
        return name;
    }

    /// <summary>Names the type at a position in each version where it is not yet named, then walks into it.</summary>
    /// <returns>The name the position's type has in the newest version that has it (null for builtins).</returns>
    private string? Visit(string proposed, Dictionary<int, string> ids, string origin)
    {
        var unwrapped = new Dictionary<int, string>();
        foreach (var (v, id) in ids)
        {
            var inner = id;
            while (_schemas[v].Entities.TryGetValue(inner, out var entity) && entity.GetProperty("meta-type").GetString() == "array")
            {
                inner = entity.GetProperty("element-type").GetString()!;
            }

            if (!Builtins.Contains(inner) && !IsEmptyObject(v, inner))
            {
                unwrapped[v] = inner;
            }
        }

        var fresh = unwrapped.Where(kv => !_names.ContainsKey((kv.Key, kv.Value))).ToDictionary(kv => kv.Key, kv => kv.Value);
        if (fresh.Count > 0)
        {
            var name = proposed;
            for (var i = 2; _reserved.Contains(name) || (_owners.TryGetValue(name, out var owners) && owners.Any(o => fresh.ContainsKey(o.Version))); i++)
            {
                name = proposed + i;
            }

            if (!_owners.TryGetValue(name, out var list))
            {
                _owners[name] = list = [];
                _order.Add(name);
                _origins[name] = origin;
            }

            foreach (var (v, id) in fresh)
            {
                _names[(v, id)] = name;
                list.Add((v, id));
            }

            WalkInto(name, fresh, origin);
        }

        if (unwrapped.Count == 0)
        {
            return null;
        }

        var newest = unwrapped.MaxBy(kv => kv.Key);
        return _names[(newest.Key, newest.Value)];
    }

    private void WalkInto(string name, Dictionary<int, string> ids, string origin)
    {
        var objects = ids.Where(kv => _schemas[kv.Key].MetaType(kv.Value) == "object").ToDictionary();
        if (objects.Count > 0)
        {
            VisitMembers(name, objects, origin);
            var cases = objects.SelectMany(kv => Variants(kv.Key, kv.Value).Select(c => c.Case)).Distinct().ToList();
            foreach (var @case in cases)
            {
                var derived = Reserve(name + Identifiers.Pascal(@case));
                _origins[derived] = $"{origin}, case {@case}";
                var variantIds = new Dictionary<int, string>();
                foreach (var (v, id) in objects)
                {
                    if (Variants(v, id).FirstOrDefault(c => c.Case == @case) is { Type: not null } variant)
                    {
                        _derived[(v, id, @case)] = derived;
                        variantIds[v] = variant.Type;
                    }
                }

                VisitMembers(derived, variantIds, $"{origin}, case {@case}");

                // A variant that is itself a union is flattened: its cases' members become optional members.
                foreach (var (v, id) in variantIds)
                {
                    foreach (var nested in Variants(v, id))
                    {
                        VisitMembers(derived, new Dictionary<int, string> { [v] = nested.Type }, $"{origin}, case {@case}");
                    }
                }
            }
        }

        foreach (var (v, id) in ids.Where(kv => _schemas[kv.Key].MetaType(kv.Value) == "alternate"))
        {
            foreach (var branch in _schemas[v].Entities[id].GetProperty("members").EnumerateArray())
            {
                var type = branch.GetProperty("type").GetString()!;
                var kind = JsonKind(v, type);
                if (kind is "object" or "string" or "array")
                {
                    Visit(name + Identifiers.Pascal(kind == "string" ? "value" : kind), new Dictionary<int, string> { [v] = type }, $"{origin}, {kind} branch");
                }
            }
        }
    }

    private void VisitMembers(string prefix, Dictionary<int, string> objectIds, string origin)
    {
        foreach (var (member, ids) in MemberPositions(objectIds))
        {
            Visit(prefix + Identifiers.Pascal(member), ids, $"{origin}, member {member}");
        }
    }

    /// <summary>Member names over the versions, those every version has first, each with its type id per version.</summary>
    private List<(string Member, Dictionary<int, string> Ids)> MemberPositions(Dictionary<int, string> objectIds)
    {
        var positions = new Dictionary<string, Dictionary<int, string>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var (v, id) in objectIds.OrderByDescending(kv => kv.Key))
        {
            foreach (var member in Members(v, id))
            {
                var name = member.GetProperty("name").GetString()!;
                if (!positions.TryGetValue(name, out var ids))
                {
                    positions[name] = ids = [];
                    order.Add(name);
                }

                ids[v] = member.GetProperty("type").GetString()!;
            }
        }

        return order.OrderBy(m => positions[m].Count == objectIds.Count ? 0 : 1).Select(m => (m, positions[m])).ToList();
    }

    private IEnumerable<JsonElement> Members(int v, string id) =>
        _schemas[v].Entities.TryGetValue(id, out var entity) && entity.TryGetProperty("members", out var members) && entity.GetProperty("meta-type").GetString() == "object"
            ? members.EnumerateArray()
            : [];

    private IEnumerable<(string Case, string Type)> Variants(int v, string id) =>
        _schemas[v].Entities.TryGetValue(id, out var entity) && entity.TryGetProperty("variants", out var variants)
            ? variants.EnumerateArray().Select(x => (x.GetProperty("case").GetString()!, x.GetProperty("type").GetString()!))
            : [];

    private static bool HasVariants(JsonElement entity) => entity.TryGetProperty("variants", out var variants) && variants.GetArrayLength() > 0;

    private bool IsEmptyObject(int v, string id) =>
        _schemas[v].Entities.TryGetValue(id, out var entity) && entity.GetProperty("meta-type").GetString() == "object"
        && entity.GetProperty("members").GetArrayLength() == 0 && !HasVariants(entity);

    private string JsonKind(int v, string id)
    {
        if (_schemas[v].Entities.TryGetValue(id, out var entity))
        {
            return entity.GetProperty("meta-type").GetString() switch
            {
                "builtin" => entity.GetProperty("json-type").GetString() switch
                {
                    "string" => "string",
                    "int" or "number" => "number",
                    "boolean" => "boolean",
                    "null" => "null",
                    _ => "value",
                },
                "enum" => "string",
                "array" => "array",
                "alternate" => "value",
                _ => "object",
            };
        }

        return "value";
    }

    /// <summary>The type of a member in one version.</summary>
    private TypeRef Resolve(int v, string id)
    {
        if (Builtins.Contains(id))
        {
            return TypeRef.Of(id);
        }

        var entity = _schemas[v].Entities[id];
        if (entity.GetProperty("meta-type").GetString() == "array")
        {
            return TypeRef.ArrayOf(Resolve(v, entity.GetProperty("element-type").GetString()!));
        }

        if (IsEmptyObject(v, id))
        {
            return TypeRef.Of("any");
        }

        return _names.TryGetValue((v, id), out var name) ? TypeRef.Type(name) : throw new InvalidOperationException($"type {id} of QEMU {_schemas[v].Version} was never named");
    }

    private List<ApiMember> MergeMembers(Dictionary<int, string> objectIds, string? skip)
    {
        var merged = new List<ApiMember>();
        foreach (var (member, ids) in MemberPositions(objectIds))
        {
            if (member == skip)
            {
                continue;
            }

            var apiMember = new ApiMember { WireName = member, Type = null! };
            var required = true;
            foreach (var (v, objectId) in objectIds.OrderBy(kv => kv.Key))
            {
                var entry = Members(v, objectId).FirstOrDefault(m => m.GetProperty("name").GetString() == member);
                if (entry.ValueKind != JsonValueKind.Object)
                {
                    required = false;
                    continue;
                }

                apiMember.Versions.Add(v);
                apiMember.Type = Resolve(v, ids[v]);
                required &= !entry.TryGetProperty("default", out _);
                if (entry.TryGetProperty("features", out var features))
                {
                    foreach (var feature in features.EnumerateArray())
                    {
                        apiMember.Features.Add(feature.GetString()!);
                    }
                }
            }

            apiMember.Required = required;
            merged.Add(apiMember);
        }

        return merged;
    }

    private ApiType MergeSynthetic(string className, string origin, Dictionary<int, string> objectIds)
    {
        var type = new ApiType { Name = className, Kind = ApiKind.Object, Origin = origin };
        foreach (var v in objectIds.Keys)
        {
            type.Versions.Add(v);
        }

        type.Members.AddRange(MergeMembers(objectIds.Where(kv => !IsEmptyObject(kv.Key, kv.Value)).ToDictionary(), skip: null));
        return type;
    }

    private ApiType? MergeNamed(string name)
    {
        var owners = _owners[name];
        var newest = owners.MaxBy(o => o.Version);
        var metaType = _schemas[newest.Version].MetaType(newest.Id);
        var same = owners.Where(o => _schemas[o.Version].MetaType(o.Id) == metaType).ToDictionary(o => o.Version, o => o.Id);
        var entity = _schemas[newest.Version].Entities[newest.Id];
        var kind = metaType switch
        {
            "enum" => ApiKind.Enum,
            "alternate" => ApiKind.Alternate,
            _ => HasVariants(entity) ? ApiKind.Union : ApiKind.Object,
        };
        var type = new ApiType { Name = name, Kind = kind, Origin = _origins[name] };
        foreach (var v in same.Keys)
        {
            type.Versions.Add(v);
        }

        switch (kind)
        {
            case ApiKind.Enum:
                foreach (var (v, id) in same.OrderByDescending(kv => kv.Key))
                {
                    foreach (var value in _schemas[v].Entities[id].GetProperty("values").EnumerateArray().Select(x => x.GetString()!))
                    {
                        var existing = type.EnumValues.FindIndex(e => e.Value == value);
                        if (existing < 0)
                        {
                            type.EnumValues.Add((value, [v]));
                        }
                        else
                        {
                            type.EnumValues[existing].Versions.Add(v);
                        }
                    }
                }

                break;
            case ApiKind.Alternate:
                foreach (var (v, id) in same.OrderByDescending(kv => kv.Key))
                {
                    foreach (var branch in _schemas[v].Entities[id].GetProperty("members").EnumerateArray())
                    {
                        var branchType = branch.GetProperty("type").GetString()!;
                        var jsonKind = JsonKind(v, branchType);
                        var existing = type.Branches.FirstOrDefault(b => b.JsonKind == jsonKind);
                        if (existing is null)
                        {
                            type.Branches.Add(new ApiBranch(jsonKind, Resolve(v, branchType), [v]));
                        }
                        else
                        {
                            existing.Versions.Add(v);
                        }
                    }
                }

                break;
            default:
                var tag = entity.TryGetProperty("tag", out var tagElement) ? tagElement.GetString() : null;
                type.Tag = tag;
                type.Members.AddRange(MergeMembers(same, skip: tag));
                if (tag is not null)
                {
                    var tagMember = Members(newest.Version, newest.Id).First(m => m.GetProperty("name").GetString() == tag);
                    type.TagType = Resolve(newest.Version, tagMember.GetProperty("type").GetString()!);
                    MergeVariants(type, same);
                }

                break;
        }

        return type;
    }

    private void MergeVariants(ApiType type, Dictionary<int, string> unionIds)
    {
        var cases = unionIds.OrderByDescending(kv => kv.Key).SelectMany(kv => Variants(kv.Key, kv.Value).Select(c => c.Case)).Distinct().ToList();
        foreach (var @case in cases)
        {
            var variantIds = new Dictionary<int, string>();
            string? className = null;
            foreach (var (v, id) in unionIds)
            {
                if (Variants(v, id).FirstOrDefault(c => c.Case == @case) is { Type: not null } variant)
                {
                    variantIds[v] = variant.Type;
                    className ??= _derived[(v, id, @case)];
                }
            }

            var apiVariant = new ApiVariant { Case = @case, ClassName = className! };
            foreach (var v in variantIds.Keys)
            {
                apiVariant.Versions.Add(v);
            }

            var nonEmpty = variantIds.Where(kv => !IsEmptyObject(kv.Key, kv.Value)).ToDictionary();
            apiVariant.Members.AddRange(MergeMembers(nonEmpty, skip: null));

            // Where the union exists without this case (7.2's BlockJobInfo was not yet a union), a reply
            // with the same discriminator value still reads into this class: nothing in it may be required.
            if (variantIds.Count < unionIds.Count)
            {
                apiVariant.Members.ForEach(m => m.Required = false);
            }

            // Flattened nested union: its tag is an ordinary member above; its cases' members are all optional.
            foreach (var (v, id) in nonEmpty)
            {
                foreach (var nested in Variants(v, id))
                {
                    foreach (var member in MergeMembers(new Dictionary<int, string> { [v] = nested.Type }, skip: null))
                    {
                        if (apiVariant.Members.All(m => m.WireName != member.WireName))
                        {
                            member.Required = false;
                            apiVariant.Members.Add(member);
                        }
                    }
                }
            }

            // A member that moved between the base and a case across versions (query-sev's policy) is one member, kept in the base.
            foreach (var moved in apiVariant.Members.Where(m => type.Members.Any(b => b.WireName == m.WireName)).ToList())
            {
                var kept = type.Members.First(b => b.WireName == moved.WireName);
                kept.Versions.UnionWith(moved.Versions);
                kept.Required = false;
                apiVariant.Members.Remove(moved);
            }

            type.Variants.Add(apiVariant);
        }
    }
}
