using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using System.Text;
using Virt.IO;
using Virt.Tests;

namespace Virt.Abstractions.Tests.IO;

/// <summary>A file system that fails at one step of the write: the old content stays, no temporary is left, and the error says where.</summary>
public sealed class StateFileFaultTests
{
    private const string Path = "/state/vm/spec.json";

    private static string Content(MockFileSystem fileSystem) => fileSystem.GetFile(Path).TextContents;

    public static TheoryData<string, string> Steps => new()
    {
        { "create", "create the temporary file" },
        { "write", "write" },
        { "flush", "flush to disk (fsync)" },
        { "move", "rename over the target" },
    };

    [Theory]
    [MemberData(nameof(Steps))]
    public async Task A_failing_step_leaves_the_old_content_and_no_temporary(string failAt, string stepInMessage)
    {
        var fileSystem = new FaultyFileSystem(failAt);
        fileSystem.AddFile(Path, new MockFileData("old"));

        var error = await Assert.ThrowsAsync<IOException>(() => StateFile.WriteAsync(fileSystem, Path, Encoding.UTF8.GetBytes("new"), OwnerOnly.FileMode, TestContext.Current.CancellationToken));

        Assert.Equal("old", Content(fileSystem));
        Assert.Equal([Path], fileSystem.Directory.GetFiles("/state/vm"));
        Assert.Contains($"'{Path}'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{stepInMessage}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(FaultyFileSystem.OsError, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Steps))]
    public void The_synchronous_form_fails_the_same_way(string failAt, string stepInMessage)
    {
        var fileSystem = new FaultyFileSystem(failAt);
        fileSystem.AddFile(Path, new MockFileData("old"));

        var error = Assert.Throws<IOException>(() => StateFile.Write(fileSystem, Path, "new"u8, OwnerOnly.FileMode));

        Assert.Equal("old", Content(fileSystem));
        Assert.Equal([Path], fileSystem.Directory.GetFiles("/state/vm"));
        Assert.Contains($"'{stepInMessage}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_faults_the_new_content_replaces_the_old_and_no_temporary_is_left()
    {
        var fileSystem = new FaultyFileSystem(failAt: "none");
        fileSystem.AddFile(Path, new MockFileData("old"));

        await StateFile.WriteAsync(fileSystem, Path, Encoding.UTF8.GetBytes("new"), OwnerOnly.FileMode, TestContext.Current.CancellationToken);

        Assert.Equal("new", Content(fileSystem));
        Assert.Equal([Path], fileSystem.Directory.GetFiles("/state/vm"));
    }

    [Fact]
    public void A_temporary_of_a_dead_writer_is_removed_and_one_of_a_live_writer_is_kept()
    {
        var fileSystem = new MockFileSystem();
        fileSystem.AddFile(Path, new MockFileData("old"));
        // Linux pids never exceed 4194304 (PID_MAX_LIMIT), so this writer is surely gone; pid 1 surely lives.
        var dead = Path + ".tmp-4194305-0123";
        var live = Path + ".tmp-1-4567";
        fileSystem.AddFile(dead, new MockFileData("half"));
        fileSystem.AddFile(live, new MockFileData("in progress"));

        StateFile.Write(fileSystem, Path, "new"u8, OwnerOnly.FileMode);

        Assert.False(fileSystem.File.Exists(dead));
        Assert.True(fileSystem.File.Exists(live));
        Assert.Equal("new", Content(fileSystem));
    }

    [Fact]
    public async Task A_cancelled_write_leaves_the_old_content_and_no_temporary()
    {
        var fileSystem = new MockFileSystem();
        fileSystem.AddFile(Path, new MockFileData("old"));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => StateFile.WriteAsync(fileSystem, Path, Encoding.UTF8.GetBytes("new"), OwnerOnly.FileMode, new CancellationToken(canceled: true)));

        Assert.Equal("old", Content(fileSystem));
        Assert.Equal([Path], fileSystem.Directory.GetFiles("/state/vm"));
    }

    [Theory]
    [InlineData("create", "create the temporary file")]
    [InlineData("write", "write")]
    [InlineData("flush", "flush to disk (fsync)")]
    public void Many_files_in_one_write_keep_every_old_content_and_no_temporary_when_a_step_fails_before_the_renames(string failAt, string stepInMessage)
    {
        var fileSystem = new FaultyFileSystem(failAt);
        fileSystem.AddFile("/state/vm/one.json", new MockFileData("old one"));
        fileSystem.AddFile("/state/vm/two.json", new MockFileData("old two"));

        var error = Assert.Throws<IOException>(() => StateFile.WriteAll(fileSystem, new Dictionary<string, byte[]> { ["/state/vm/one.json"] = "new"u8.ToArray(), ["/state/vm/two.json"] = "new"u8.ToArray() }, OwnerOnly.FileMode));

        Assert.Equal(("old one", "old two"), (fileSystem.GetFile("/state/vm/one.json").TextContents, fileSystem.GetFile("/state/vm/two.json").TextContents));
        Assert.Equal(["/state/vm/one.json", "/state/vm/two.json"], fileSystem.Directory.GetFiles("/state/vm").Order(StringComparer.Ordinal));
        Assert.Contains($"'{stepInMessage}'", error.Message, StringComparison.Ordinal);
    }

    /// <summary>An in-memory file system that fails one step of a write the way a full or broken disk does.</summary>
    private sealed class FaultyFileSystem : MockFileSystem
    {
        public const string OsError = "No space left on device";

        public FaultyFileSystem(string failAt)
        {
            File = new FaultyFile(this, failAt);
            FileStream = new FaultyStreams(this, failAt);
        }

        public override IFile File { get; }

        public override IFileStreamFactory FileStream { get; }

        private static IOException Fault() => new(OsError);

        private sealed class FaultyFile(MockFileSystem fileSystem, string failAt) : MockFile(fileSystem)
        {
            public override void Move(string sourceFileName, string destFileName, bool overwrite)
            {
                if (failAt == "move")
                {
                    throw Fault();
                }

                base.Move(sourceFileName, destFileName, overwrite);
            }
        }

        private sealed class FaultyStreams(MockFileSystem fileSystem, string failAt) : DelegatingFileStreamFactory(fileSystem)
        {
            public override FileSystemStream New(string path, FileStreamOptions options)
            {
                if (failAt == "create")
                {
                    throw Fault();
                }

                return new FaultyStream(Inner.New(path, options), failAt);
            }
        }

        private sealed class FaultyStream(FileSystemStream inner, string failAt) : FileSystemStream(inner, inner.Name, inner.IsAsync)
        {
            public override void Write(byte[] buffer, int offset, int count)
            {
                FailAt("write");
                base.Write(buffer, offset, count);
            }

            public override void Write(ReadOnlySpan<byte> buffer)
            {
                FailAt("write");
                base.Write(buffer);
            }

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                FailAt("write");
                return base.WriteAsync(buffer, cancellationToken);
            }

            public override void Flush(bool flushToDisk)
            {
                FailAt("flush");
                base.Flush(flushToDisk);
            }

            private void FailAt(string step)
            {
                if (failAt == step)
                {
                    throw Fault();
                }
            }
        }
    }
}
