using System.Text.Json.Nodes;

namespace Virt.Kvm.Tests.Fakes;

/// <summary>Files of this repository that the tests read: the captured QMP schemas, the generated API.</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<JsonNode> Schema72 = new(() => JsonNode.Parse(File.ReadAllText(SchemaPath("7.2.22")))!["schema"]!);

    public static string Root
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (!File.Exists(Path.Combine(directory!.FullName, "Virt.sln")))
            {
                directory = directory.Parent;
            }

            return directory.FullName;
        }
    }

    /// <summary>The <c>query-qmp-schema</c> reply of QEMU 7.2.22, as captured.</summary>
    public static JsonNode Qemu72Schema => Schema72.Value;

    public static string SchemaPath(string version) => Path.Combine(Root, "schemas", "qmp", $"qemu-{version}.json");
}
