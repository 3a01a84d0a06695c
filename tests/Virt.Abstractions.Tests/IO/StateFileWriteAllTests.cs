using System.IO.Abstractions;
using Virt.IO;
using Virt.Tests;

namespace Virt.Abstractions.Tests.IO;

/// <summary>Many state files in one write: each replaced whole, nothing torn or left behind when a step fails.</summary>
public sealed class StateFileWriteAllTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("virt-writeall-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task On_the_real_file_system_every_file_gets_its_content_and_mode_and_no_temporary_is_left()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "a"));
        Directory.CreateDirectory(Path.Combine(_directory, "b"));
        var first = Path.Combine(_directory, "a", "one.json");
        var second = Path.Combine(_directory, "b", "two.json");
        await File.WriteAllTextAsync(first, "old", TestContext.Current.CancellationToken);

        StateFile.WriteAll(new FileSystem(), new Dictionary<string, byte[]> { [first] = "new one"u8.ToArray(), [second] = "new two"u8.ToArray() }, OwnerOnly.FileMode);

        Assert.Equal("new one", await File.ReadAllTextAsync(first, TestContext.Current.CancellationToken));
        Assert.Equal("new two", await File.ReadAllTextAsync(second, TestContext.Current.CancellationToken));
        Assert.Equal(OwnerOnly.FileMode, File.GetUnixFileMode(second));
        Assert.Equal(2, Directory.GetFiles(_directory, "*", SearchOption.AllDirectories).Length);
    }
}
