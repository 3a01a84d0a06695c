using System.Text.RegularExpressions;

namespace Virt.Cluster.Store;

/// <summary>The rule for node, guest and definition names in the cluster: they become etcd key segments.</summary>
internal static partial class ClusterNames
{
    public const string Rule = "give 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit";

    public static bool IsValid(string? name) => name is { Length: > 0 and <= 63 } && Pattern().IsMatch(name);

    /// <summary>Throws <see cref="ArgumentException"/> naming what the name is of.</summary>
    public static string Check(string? name, string what, string parameterName)
    {
        if (!IsValid(name))
        {
            throw new ArgumentException($"{what} name '{name}' is not usable: {Rule}", parameterName);
        }

        return name!;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex Pattern();
}
