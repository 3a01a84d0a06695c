using System.Text;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Commands in a real container: streams, exit codes, signals, missing programs, failed attaches, stdin, deadlines.</summary>
public sealed class ExecTests
{
    [Fact(Timeout = 120_000)]
    public async Task Exit_codes_signals_missing_commands_and_separate_streams_are_told_apart()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("exec"), ct);
        await container.StartAsync(cancellationToken: ct);

        var ok = await InContainer.RunAsync(container, "sh", "-c", "echo out; echo err >&2");
        Assert.Equal((ContainerExecOutcome.Exited, 0, "out\n", "err\n"), (ok.Outcome, ok.ExitCode, ok.StandardOutput, ok.StandardError));

        var seven = await InContainer.RunAsync(container, "sh", "-c", "exit 7");
        Assert.Equal((ContainerExecOutcome.Exited, 7), (seven.Outcome, seven.ExitCode));

        var one = await InContainer.RunAsync(container, "false");
        Assert.Equal((ContainerExecOutcome.Exited, 1), (one.Outcome, one.ExitCode));

        var killed = await InContainer.RunAsync(container, "sh", "-c", "kill -9 $$");
        Assert.Equal((ContainerExecOutcome.Signaled, 137, 9), (killed.Outcome, killed.ExitCode, killed.Signal));

        var missing = await InContainer.RunAsync(container, "/no/such/program");
        Assert.Equal(ContainerExecOutcome.CommandNotFound, missing.Outcome);

        var combined = await container.ExecAsync(new ContainerExecRequest(["sh", "-c", "echo a; echo b >&2; echo c"]) { CombineOutput = true }, ct);
        Assert.Equal(["a", "b", "c"], combined.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Empty(combined.StandardError);

        var identity = await container.ExecAsync(new ContainerExecRequest(["sh", "-c", "echo $GREETING; pwd; id -u; id -g"]) { Environment = new Dictionary<string, string> { ["GREETING"] = "hello there" }, WorkingDirectory = "/tmp", User = 65534, Group = 65534 }, ct);
        Assert.Equal("hello there\n/tmp\n65534\n65534\n", identity.StandardOutput);

        await container.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Stdin_is_piped_through_output_streams_as_it_comes_and_a_deadline_kills_a_hanging_command()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("stdin"), ct);
        await container.StartAsync(cancellationToken: ct);

        var input = new MemoryStream(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("line of input\n", 10_000))));
        var output = new MemoryStream();
        var counted = await container.ExecAsync(new ContainerExecRequest(["wc", "-l"]) { StandardInput = input, StandardOutput = output }, ct);
        Assert.Equal(0, counted.ExitCode);
        Assert.Empty(counted.StandardOutput);
        Assert.Equal("10000", Encoding.UTF8.GetString(output.ToArray()).Trim());

        var hang = container.ExecAsync(new ContainerExecRequest(["sleep", "3600"]) { Timeout = TimeSpan.FromSeconds(1) }, ct);
        var timeout = await Assert.ThrowsAsync<ContainerExecTimeoutException>(() => hang);
        Assert.Contains("sleep 3600", timeout.Message, StringComparison.Ordinal);
        var processes = await InContainer.OutputAsync(container, "ps", "-o", "args");
        Assert.DoesNotContain("sleep 3600", processes, StringComparison.Ordinal);
        await container.KillAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Exec_into_a_stopped_container_is_an_attach_failure_not_exit_code_1()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("stopped"), ct);
        var error = await Assert.ThrowsAsync<ContainerAttachException>(() => InContainer.RunAsync(container, "true"));
        Assert.Contains("it is not running: start it first", error.Message, StringComparison.Ordinal);

        await Assert.ThrowsAsync<ArgumentException>(() => container.ExecAsync(new ContainerExecRequest(["true"]) { Environment = new Dictionary<string, string> { ["X"] = "a\nlxc.hook.pre-start=/bin/false" } }, ct));
    }
}
