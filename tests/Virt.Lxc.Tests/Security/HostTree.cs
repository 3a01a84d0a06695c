using System.Security.Cryptography;

namespace Virt.Lxc.Tests.Security;

/// <summary>
/// A directory standing for the host's files an image attacks: made outside the LXC path, filled with
/// files and a subdirectory, and snapshotted (every entry's type, mode and content hash) so a test can
/// assert nothing in it changed.
/// </summary>
internal sealed class HostTree : IDisposable
{
    public HostTree()
    {
        Path = "/tmp/vh-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "sub"));
        File.WriteAllText(System.IO.Path.Combine(Path, "secret"), "host secret " + Guid.NewGuid());
        File.WriteAllText(System.IO.Path.Combine(Path, "other"), "other host file");
        File.WriteAllText(System.IO.Path.Combine(Path, "sub/deep"), "deep host file");
        Before = Snapshot();
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> Before { get; }

    public string SecretPath => System.IO.Path.Combine(Path, "secret");

    /// <summary>The sha256 of the secret file, which no error may disclose.</summary>
    public string SecretHash => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(SecretPath)));

    public IReadOnlyDictionary<string, string> Snapshot()
    {
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in new DirectoryInfo(Path).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var relative = System.IO.Path.GetRelativePath(Path, entry.FullName);
            entries[relative] = entry is FileInfo file && entry.LinkTarget is null
                ? $"file {file.UnixFileMode} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName)))}"
                : $"{(entry.LinkTarget is not null ? "link " + entry.LinkTarget : "dir")} {entry.UnixFileMode}";
        }

        entries["."] = "dir " + File.GetUnixFileMode(Path);
        return entries;
    }

    /// <summary>Asserts every file, directory and mode is as it was when the tree was made.</summary>
    public void AssertUnchanged() => Assert.Equal(Before, Snapshot());

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
