using System.Text;

namespace Virt.Tools.QmpCodegen;

/// <summary>Turns QAPI names (kebab, snake, SHOUTING) into C# identifiers.</summary>
public static class Identifiers
{
    private static readonly HashSet<string> ReservedMemberNames = new(StringComparer.Ordinal)
    {
        "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "Finalize", "ExtensionData",
    };

    /// <summary>"query-cpus-fast" → QueryCpusFast; "BLOCK_JOB_READY" → BlockJobReady; "x86_64" → X8664.</summary>
    public static string Pascal(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var part in name.Split(['-', '_', '.', ' ', ':', '+', '/'], StringSplitOptions.RemoveEmptyEntries))
        {
            var word = part.Length > 1 && part.All(c => !char.IsLetter(c) || char.IsUpper(c)) ? part.ToLowerInvariant() : part;
            builder.Append(char.ToUpperInvariant(word[0])).Append(word.AsSpan(1));
        }

        if (builder.Length == 0 || !char.IsLetter(builder[0]))
        {
            builder.Insert(0, 'V');
        }

        return builder.ToString();
    }

    /// <summary>A member name that is legal inside a type called <paramref name="typeName"/>.</summary>
    public static string Member(string wireName, string typeName)
    {
        var name = Pascal(wireName);
        return name == typeName || ReservedMemberNames.Contains(name) ? name + "Value" : name;
    }

    /// <summary>A C# string literal.</summary>
    public static string Literal(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>Escapes text for an XML doc comment.</summary>
    public static string Xml(string value) => value.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
