using System.Diagnostics;
using System.IO.Abstractions;
using Virt.Passthrough.Binding;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Tests.Security;

/// <summary>
/// The journal names the drivers to restore after a crash: another local user must not read it, nor
/// plant a journal or a lock in a directory it could write. Checked on the real file system, as user nobody.
/// </summary>
public sealed class PrivateStateTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"virt-pt-sec-{Guid.NewGuid():N}");

    public PrivateStateTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task The_journal_and_the_lock_are_created_private_and_another_user_cannot_read_them()
    {
        // The temp root itself is world-traversable, so only our own modes stand between nobody and the files.
        File.SetUnixFileMode(_root, (UnixFileMode)Convert.ToInt32("755", 8));
        var options = new PassthroughOptions { StateDirectory = Path.Combine(_root, "passthrough") };
        var fileSystem = new FileSystem();
        new PassthroughJournal(fileSystem, options).Write(new JournalRecord("vm:web", [new JournalEntry("0000:01:00.0", "nvidia", null, "vfio-pci", 1)]));
        using (await new HostLock(fileSystem, options, TimeProvider.System).AcquireAsync(TestContext.Current.CancellationToken))
        {
        }

        var journal = Path.Combine(options.StateDirectory, "bindings", "vm:web.json");
        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(owner | UnixFileMode.UserExecute, File.GetUnixFileMode(options.StateDirectory));
        Assert.Equal(owner | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(journal)!));
        Assert.Equal(owner, File.GetUnixFileMode(journal));
        Assert.Equal(owner, File.GetUnixFileMode(Path.Combine(options.StateDirectory, "lock")));
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.GetDirectoryName(journal)!), file => file.Contains(".tmp", StringComparison.Ordinal));

        var (code, error) = await RunAsNobodyAsync("cat", journal);
        Assert.NotEqual(0, code);
        Assert.Contains("Permission denied", error, StringComparison.Ordinal);
        (code, error) = await RunAsNobodyAsync("touch", Path.Combine(options.StateDirectory, "bindings", "planted.json"));
        Assert.NotEqual(0, code);
        Assert.Contains("Permission denied", error, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Error)> RunAsNobodyAsync(params string[] command)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "--", .. command])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, error);
    }
}
