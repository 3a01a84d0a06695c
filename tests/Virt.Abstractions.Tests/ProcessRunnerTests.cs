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
        var marker = Path.Combine(Path.GetTempPath(), $"virt-child-{Guid.NewGuid():N}");
        var spec = new ProcessSpec("/bin/sh", ["-c", $"(sleep 2; touch {marker}) & sleep 30"]) { Timeout = TimeSpan.FromMilliseconds(300) };

        var error = await Assert.ThrowsAsync<ProcessTimeoutException>(() => _runner.RunAsync(spec, TestContext.Current.CancellationToken));

        Assert.IsAssignableFrom<TimeoutException>(error);
        Assert.Equal(TimeSpan.FromMilliseconds(300), error.Timeout);
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        Assert.False(File.Exists(marker), "the child outlived the kill");
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
