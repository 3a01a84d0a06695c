namespace Virt.Tools.QmpCodegen;

/// <summary>The generator's entry points, shared by the command line and the up-to-date test.</summary>
public static class Generator
{
    /// <summary>Generates the files from every capture in a folder.</summary>
    public static SortedDictionary<string, string> Generate(string schemasFolder) =>
        CSharpEmitter.Emit(ModelBuilder.Build(SchemaFile.LoadAll(schemasFolder)));

    /// <summary>Which generated files differ from, are missing in, or are left over in a folder.</summary>
    public static List<string> Compare(SortedDictionary<string, string> files, string folder)
    {
        var differences = new List<string>();
        foreach (var (name, content) in files)
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path))
            {
                differences.Add($"missing: {path}");
            }
            else if (File.ReadAllText(path) != content)
            {
                differences.Add($"differs: {path}");
            }
        }

        if (Directory.Exists(folder))
        {
            differences.AddRange(Directory.GetFiles(folder, "*.g.cs").Where(f => !files.ContainsKey(Path.GetFileName(f))).Select(f => $"left over: {f}"));
        }

        return differences;
    }
}
