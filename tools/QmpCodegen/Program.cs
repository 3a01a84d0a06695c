using Virt.Tools.QmpCodegen;

// Usage: QmpCodegen <schemas folder> <output folder> [--check]
//   Generates the typed QMP API from every schemas/qmp/qemu-*.json into the output folder.
//   --check writes nothing and exits 1 when the folder differs from what would be generated.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: QmpCodegen <schemas folder> <output folder> [--check]");
    return 2;
}

var files = Generator.Generate(args[0]);
var check = args.Contains("--check");
var stale = Generator.Compare(files, args[1]);
if (check)
{
    foreach (var line in stale)
    {
        Console.Error.WriteLine(line);
    }

    return stale.Count == 0 ? 0 : 1;
}

Directory.CreateDirectory(args[1]);
foreach (var old in Directory.GetFiles(args[1], "*.g.cs").Where(f => !files.ContainsKey(Path.GetFileName(f))))
{
    File.Delete(old);
}

foreach (var (name, content) in files)
{
    File.WriteAllText(Path.Combine(args[1], name), content);
}

Console.WriteLine($"wrote {files.Count} files to {args[1]} ({stale.Count} changed)");
return 0;
