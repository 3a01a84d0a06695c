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

    [Fact]
    public async Task Start_pipes_standard_input_through_cat_as_a_stream()
    {
        var payload = Enumerable.Range(0, 300_000).Select(i => (byte)i).ToArray();
        await using var cat = _runner.Start(new ProcessSpec("cat", []));

        // Feed and read at once: the payload is larger than a pipe's buffer.
        var feed = Task.Run(async () =>
        {
            await using (cat.StandardInput)
            {
                await cat.StandardInput.WriteAsync(payload, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);
        using var echoed = new MemoryStream();
        await cat.StandardOutput.CopyToAsync(echoed, TestContext.Current.CancellationToken);
        await feed;

        Assert.Equal(0, await cat.WaitForExitAsync(TestContext.Current.CancellationToken));
        Assert.Equal(payload, echoed.ToArray());
        Assert.True(cat.HasExited);
    }

    [Fact]
    public async Task Start_hands_back_standard_error_and_the_exit_code()
    {
        await using var shell = _runner.Start(new ProcessSpec("/bin/sh", ["-c", "echo out; echo 'disk full' >&2; exit 7"]));

        using var output = new StreamReader(shell.StandardOutput);
        using var error = new StreamReader(shell.StandardError);
        var standardOutput = await output.ReadToEndAsync(TestContext.Current.CancellationToken);
        var standardError = await error.ReadToEndAsync(TestContext.Current.CancellationToken);

        Assert.Equal(7, await shell.WaitForExitAsync(TestContext.Current.CancellationToken));
        Assert.Equal("out\n", standardOutput);
        Assert.Equal("disk full\n", standardError);
    }

    [Fact]
    public void Start_of_a_missing_program_says_which_and_why()
    {
        var error = Assert.Throws<VirtException>(() => _runner.Start(new ProcessSpec("/nonexistent/virt-tool", ["x"])));

        Assert.Contains("/nonexistent/virt-tool", error.Message, StringComparison.Ordinal);
        Assert.IsType<System.ComponentModel.Win32Exception>(error.InnerException);
    }

    [Fact]
    public async Task Cancelling_the_wait_kills_the_program_and_its_children()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        await using var shell = _runner.Start(new ProcessSpec("/bin/sh", ["-c", "sleep 30 & echo $!; wait"]));
        using var output = new StreamReader(shell.StandardOutput);

        // The grandchild's pid on standard output proves it runs before the cancellation comes.
        var grandchild = int.Parse((await output.ReadLineAsync(TestContext.Current.CancellationToken))!, System.Globalization.CultureInfo.InvariantCulture);
        var wait = shell.WaitForExitAsync(cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.True(shell.HasExited);
        await WaitUntilGoneAsync(shell.Id);
        await WaitUntilGoneAsync(grandchild);
    }

    [Fact]
    public async Task Disposing_a_running_program_kills_it_with_its_children()
    {
        var shell = _runner.Start(new ProcessSpec("/bin/sh", ["-c", "sleep 30 & echo $!; wait"]));
        using var output = new StreamReader(shell.StandardOutput);
        var grandchild = int.Parse((await output.ReadLineAsync(TestContext.Current.CancellationToken))!, System.Globalization.CultureInfo.InvariantCulture);

        await shell.DisposeAsync();

        await WaitUntilGoneAsync(shell.Id);
        await WaitUntilGoneAsync(grandchild);
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
