using System.Collections;
using System.Reflection;
using System.Text.Json;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>Checks that replies and events read into the generated QMP types with nothing left over.</summary>
internal static class QmpApiChecks
{
    /// <summary>Every member that ended in extension data (unknown to the generated type), by path.</summary>
    public static List<string> Leftovers(object? value, string path)
    {
        var found = new List<string>();
        Walk(value, path, found);
        return found;
    }

    /// <summary>Reads a logged event line into its generated class; returns what went wrong, or null.</summary>
    public static string? CheckEvent(string eventLine)
    {
        using var document = JsonDocument.Parse(eventLine);
        var root = document.RootElement;
        var name = root.GetProperty("event").GetString()!;
        JsonElement? data = root.TryGetProperty("data", out var d) ? d.Clone() : null;
        try
        {
            var typed = new QmpEvent(name, DateTimeOffset.UnixEpoch, data).ToTyped();
            if (typed is null)
            {
                return $"{name}: no generated class";
            }

            var leftovers = Leftovers(typed, name);
            return leftovers.Count == 0 ? null : $"{name}: unknown members {string.Join(", ", leftovers)}";
        }
        catch (JsonException ex)
        {
            return $"{name}: {ex.Message} in {eventLine}";
        }
    }

    private static void Walk(object? value, string path, List<string> found)
    {
        switch (value)
        {
            case null or string or JsonElement:
                return;
            case IQmpObject qmpObject:
                if (qmpObject.ExtensionData is { Count: > 0 } extra)
                {
                    found.AddRange(extra.Keys.Select(k => $"{path}.{k}"));
                }

                foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    if (property.Name != nameof(IQmpObject.ExtensionData) && property.GetIndexParameters().Length == 0)
                    {
                        Walk(property.GetValue(value), $"{path}.{property.Name}", found);
                    }
                }

                return;
            case IEnumerable items:
                var i = 0;
                foreach (var item in items)
                {
                    Walk(item, $"{path}[{i++}]", found);
                }

                return;
            default:
                // Alternates: walk the branch that is set.
                if (value.GetType().Namespace == typeof(IQmpObject).Namespace && value.GetType().GetProperty("AsObject") is { } asObject)
                {
                    Walk(asObject.GetValue(value), path, found);
                }

                return;
        }
    }
}
