using Virt.Processes;

namespace Virt.Abstractions.Tests;

public sealed class ProcessRunnerTests
{
    private readonly ProcessRunner _runner = new();

    [Fact]
    public async Task Captures_output_exit_code_and_standard_input_without_a_shell()
    {
        var result = await _runner.RunAsync(
            new ProcessSpec("/bin/sh", ["-c", "read line; echo \"got $line\"; echo oops >&2; exit 3"]) { StandardInput = "a;b $(x)\n" },
            TestContext.Current.CancellationToken);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("got a;b $(x)\n", result.StandardOutput);
        Assert.Equal("oops\n", result.StandardError);
    }

    [Fact]
    public async Task EnsureSuccess_throws_with_command_line_exit_code_and_stderr()
    {
        var result = await _runner.RunAsync(new ProcessSpec("/bin/sh", ["-c", "echo 'no such volume' >&2; exit 2"]), TestContext.Current.CancellationToken);

        var error = Assert.Throws<ProcessFailedException>(() => result.EnsureSuccess());

        Assert.Equal(2, error.ExitCode);
        Assert.Equal("/bin/sh -c 'echo '\\''no such volume'\\'' >&2; exit 2'", error.CommandLine);
        Assert.Contains("no such volume", error.StandardErrorTail, StringComparison.Ordinal);
        Assert.Contains("exited with code 2: no such volume", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<VirtException>(error);
    }

    [Fact]
    public async Task A_program_past_its_deadline_is_killed_with_its_children()
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"virt-child-{Guid.NewGuid():N}");
        try
        {
            // The shell starts a grandchild and records its pid; on a loaded machine the deadline may pass before
            // the shell gets that far, so the deadline grows until the grandchild existed when the kill came.
            foreach (var deadline in new[] { 300, 2_000, 10_000 })
            {
                var spec = new ProcessSpec("/bin/sh", ["-c", $"sleep 30 & echo $! > {pidFile}; wait"]) { Timeout = TimeSpan.FromMilliseconds(deadline) };

                var error = await Assert.ThrowsAsync<ProcessTimeoutException>(() => _runner.RunAsync(spec, TestContext.Current.CancellationToken));

                Assert.IsAssignableFrom<TimeoutException>(error);
                Assert.Equal(TimeSpan.FromMilliseconds(deadline), error.Timeout);
                if (File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile, TestContext.Current.CancellationToken)).Trim(), out var grandchild))
                {
                    await WaitUntilGoneAsync(grandchild);
                    return;
                }
            }

            Assert.Fail("the shell never started its child within 10 s");
        }
        finally
        {
            File.Delete(pidFile);
        }
    }

    /// <summary>Waits for a process to be gone or a zombie (killed, not yet reaped by init); fails if it still runs after 30 s.</summary>
    private static async Task WaitUntilGoneAsync(int pid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            string stat;
            try
            {
                stat = await File.ReadAllTextAsync($"/proc/{pid}/stat", TestContext.Current.CancellationToken);
            }
            catch (IOException)
            {
                return;
            }

            // The state is the first field after the parenthesised command name.
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the child {pid} outlived the kill: {stat}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task A_missing_program_is_a_clear_error()
    {
        var error = await Assert.ThrowsAsync<VirtException>(() => _runner.RunAsync(new ProcessSpec("/nonexistent/qemu-img", ["info"]), TestContext.Current.CancellationToken));

        Assert.Contains("/nonexistent/qemu-img", error.Message, StringComparison.Ordinal);
        Assert.Contains("installed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Environment_variables_are_set_and_removed()
    {
        Environment.SetEnvironmentVariable("VIRT_TEST_REMOVE_ME", "present");
        var spec = new ProcessSpec("/bin/sh", ["-c", "echo \"$VIRT_A|${VIRT_TEST_REMOVE_ME:-gone}\""])
        {
            Environment = new Dictionary<string, string?> { ["VIRT_A"] = "set", ["VIRT_TEST_REMOVE_ME"] = null },
        };

        var result = await _runner.RunAsync(spec, TestContext.Current.CancellationToken);

        Assert.Equal("set|gone\n", result.StandardOutput);
    }
}
