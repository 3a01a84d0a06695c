namespace Virt.Tools.QmpCodegen;

/// <summary>A member's type in one QEMU version: a builtin, an array of something, or a named generated type.</summary>
public sealed record TypeRef(string? Builtin, TypeRef? Element, string? Named)
{
    public static TypeRef Of(string builtin) => new(builtin, null, null);

    public static TypeRef ArrayOf(TypeRef element) => new(null, element, null);

    public static TypeRef Type(string name) => new(null, null, name);
}

/// <summary>What a generated type is.</summary>
public enum ApiKind
{
    Object,
    Union,
    Enum,
    Alternate,
}

/// <summary>A member of an object, merged over the QEMU versions that have its parent.</summary>
public sealed class ApiMember
{
    public required string WireName { get; init; }

    /// <summary>Its type in the newest version that has it.</summary>
    public required TypeRef Type { get; set; }

    /// <summary>Required only when every version that has the parent requires it.</summary>
    public bool Required { get; set; }

    public SortedSet<int> Versions { get; } = [];

    public SortedSet<string> Features { get; } = new(StringComparer.Ordinal);
}

/// <summary>One case of a flat union: the derived class that carries the case's members.</summary>
public sealed class ApiVariant
{
    public required string Case { get; init; }

    public required string ClassName { get; init; }

    public List<ApiMember> Members { get; } = [];

    public SortedSet<int> Versions { get; } = [];
}

/// <summary>One branch of an alternate, told apart from the others by its JSON kind.</summary>
public sealed record ApiBranch(string JsonKind, TypeRef Type, SortedSet<int> Versions);

/// <summary>A generated type, merged over every QEMU version that has it.</summary>
public sealed class ApiType
{
    public required string Name { get; init; }

    public required ApiKind Kind { get; init; }

    /// <summary>Where it was first met, e.g. "command blockdev-add, arguments, member file".</summary>
    public required string Origin { get; init; }

    public SortedSet<int> Versions { get; } = [];

    public List<ApiMember> Members { get; } = [];

    public string? Tag { get; set; }

    public TypeRef? TagType { get; set; }

    public List<ApiVariant> Variants { get; } = [];

    public List<(string Value, SortedSet<int> Versions)> EnumValues { get; } = [];

    public List<ApiBranch> Branches { get; } = [];
}

/// <summary>A command: its argument class (or union), its result and the versions that have it.</summary>
public sealed class ApiCommand
{
    public required string Name { get; init; }

    /// <summary>The argument type's name, or null for a command without arguments.</summary>
    public string? Arguments { get; set; }

    /// <summary>Whether every argument is optional (the argument object may be left out).</summary>
    public bool ArgumentsOptional { get; set; }

    /// <summary>The result type, or null when QEMU returns an empty object.</summary>
    public TypeRef? Result { get; set; }

    public bool AllowOutOfBand { get; set; }

    public SortedSet<int> Versions { get; } = [];

    public SortedSet<string> Features { get; } = new(StringComparer.Ordinal);
}

/// <summary>An event and the class of its data.</summary>
public sealed class ApiEvent
{
    public required string Name { get; init; }

    public required string ClassName { get; init; }

    public SortedSet<int> Versions { get; } = [];
}

/// <summary>The whole merged API.</summary>
public sealed class ApiModel
{
    public required IReadOnlyList<SchemaFile> Schemas { get; init; }

    public List<ApiType> Types { get; } = [];

    public List<ApiCommand> Commands { get; } = [];

    public List<ApiEvent> Events { get; } = [];

    public int NewestVersion => Schemas.Count - 1;
}
