using System.Text.RegularExpressions;

namespace Virt.Readme.Tests;

/// <summary>
/// Every C# block in README.md and src/*/README.md is a region of Snippets/, word for word, so the
/// build compiles what the READMEs show and a README cannot drift from the API. A block that starts
/// with using directives lives in a file whose usings are exactly those, so the block is complete.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    private static readonly string Root = FindRepositoryRoot();

    [Fact]
    public void Every_csharp_block_of_every_readme_is_a_compiled_snippet_verbatim()
    {
        var snippets = ReadSnippets();
        var blocks = ReadReadmeBlocks();
        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            var match = snippets.FirstOrDefault(snippet => snippet.Body == block.Body);
            Assert.True(match is not null, $"{block.Readme}: the C# block starting '{block.FirstLine}' is in no #region of tests/Virt.Readme.Tests/Snippets/*.cs; copy it there verbatim (the build then compiles it), or make the README match the region that drifted.");
            if (block.Usings.Count > 0)
            {
                Assert.True(match.FileUsings.SetEquals(block.Usings), $"{block.Readme}: the block starting '{block.FirstLine}' has the usings [{string.Join(", ", block.Usings)}] but {match.File} compiles it with [{string.Join(", ", match.FileUsings)}]; make them the same so the README's block is complete.");
            }
        }
    }

    [Fact]
    public void Every_snippet_is_shown_in_a_readme()
    {
        var shown = ReadReadmeBlocks().Select(block => block.Body).ToHashSet();
        foreach (var snippet in ReadSnippets())
        {
            Assert.True(shown.Contains(snippet.Body), $"{snippet.File}: #region {snippet.Name} is in no README any more; delete it, or put it back in the README.");
        }
    }

    private sealed record Block(string Readme, string FirstLine, IReadOnlySet<string> Usings, string Body);

    private sealed record Snippet(string File, string Name, IReadOnlySet<string> FileUsings, string Body);

    private static List<Block> ReadReadmeBlocks()
    {
        var readmes = new[] { "README.md" }.Concat(Directory.GetDirectories(Path.Combine(Root, "src")).Select(dir => Path.Combine("src", Path.GetFileName(dir), "README.md")))
            .Where(path => File.Exists(Path.Combine(Root, path)));
        var blocks = new List<Block>();
        foreach (var readme in readmes)
        {
            foreach (Match fence in CsharpFence().Matches(File.ReadAllText(Path.Combine(Root, readme)).ReplaceLineEndings("\n")))
            {
                var lines = fence.Groups["code"].Value.Split('\n');
                var usings = lines.TakeWhile(line => UsingDirective().IsMatch(line) || line.Trim().Length == 0).ToList();
                var body = Normalize(lines.Skip(usings.Count));
                blocks.Add(new Block(readme, lines[0].Trim(), usings.Where(line => line.Trim().Length > 0).Select(line => line.Trim()).ToHashSet(), body));
            }
        }

        return blocks;
    }

    private static List<Snippet> ReadSnippets()
    {
        var snippets = new List<Snippet>();
        foreach (var path in Directory.GetFiles(Path.Combine(Root, "tests", "Virt.Readme.Tests", "Snippets"), "*.cs"))
        {
            var file = Path.GetRelativePath(Root, path);
            var lines = File.ReadAllText(path).ReplaceLineEndings("\n").Split('\n');
            var usings = lines.Where(line => UsingDirective().IsMatch(line)).Select(line => line.Trim()).ToHashSet();
            for (var i = 0; i < lines.Length; i++)
            {
                var start = RegionStart().Match(lines[i]);
                if (!start.Success)
                {
                    continue;
                }

                var indent = start.Groups["indent"].Value.Length;
                var end = Array.FindIndex(lines, i + 1, line => line.Trim() == "#endregion");
                Assert.True(end > i, $"{file}: #region {start.Groups["name"].Value} has no #endregion");
                var body = lines[(i + 1)..end].Select(line => line.Length >= indent && line[..indent].Trim().Length == 0 ? line[indent..] : line.TrimStart());
                snippets.Add(new Snippet(file, start.Groups["name"].Value.Trim(), usings, Normalize(body)));
                i = end;
            }
        }

        return snippets;
    }

    /// <summary>Lines without trailing blanks, and no blank lines around the block.</summary>
    private static string Normalize(IEnumerable<string> lines) => string.Join('\n', lines.Select(line => line.TrimEnd())).Trim('\n');

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Virt.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Virt.sln above {AppContext.BaseDirectory}: these tests read the READMEs from the repository");
    }

    [GeneratedRegex(@"^```(?:csharp|cs|c#)[ \t]*\n(?<code>.*?)\n```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CsharpFence();

    [GeneratedRegex(@"^\s*using\s+[\w.]+\s*;\s*$")]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"^(?<indent>\s*)#region\s+(?<name>.+)$")]
    private static partial Regex RegionStart();
}
