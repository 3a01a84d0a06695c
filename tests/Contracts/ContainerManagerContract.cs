using System.Text;
using Virt.Containers;

namespace Virt.Tests.Contracts;

/// <summary>
/// What every <see cref="IContainerManager"/> promises, written once and run against the in-memory double
/// (tests/Virt.Testing.Tests) and real LXC (tests/Virt.Lxc.IntegrationTests). Kept short: the lifecycle
/// test starts the container once. Commands are ones busybox runs and the double knows without scripting.
/// </summary>
public abstract class ContainerManagerContract
{
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The manager under test; a fresh, empty one per test.</summary>
    protected abstract IContainerManager Manager { get; }

    /// <summary>A spec that starts on this backend.</summary>
    protected virtual ContainerSpec Spec(string name) => new(name, ContainerRootfs.Busybox());

    [Fact(Timeout = 120_000)]
    public async Task A_container_goes_through_its_lifecycle_and_refuses_what_its_state_forbids()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = await Manager.CreateAsync(Spec("contract"), ct);
        Assert.Equal(("contract", ContainerState.Stopped, null), (container.Name, (await container.GetStatusAsync(ct)).State, (await container.GetStatusAsync(ct)).InitPid));
        Assert.Contains(await Manager.ListAsync(ct), c => c.Name == "contract");
        Assert.Equal("contract", (await Manager.GetAsync("contract", ct)).Name);
        var duplicate = await Assert.ThrowsAsync<ContainerAlreadyExistsException>(() => Manager.CreateAsync(Spec("contract"), ct));
        Assert.Equal((VirtErrorKind.Conflict, "contract"), (duplicate.ErrorKind, duplicate.ContainerName));
        await Assert.ThrowsAsync<ContainerAttachException>(() => container.ExecAsync(Command("echo", "hello"), ct));
        var pushStopped = await Assert.ThrowsAsync<ContainerStateException>(() => container.PushFileAsync("/tmp/x", new MemoryStream([1]), cancellationToken: ct));
        Assert.Equal((VirtErrorKind.Conflict, ContainerState.Stopped), (pushStopped.ErrorKind, pushStopped.State));

        // The first event is the state now; each later one is awaited before the next step, so no step races its event.
        var seen = new List<ContainerState>();
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var events = container.WatchAsync(stopWatching.Token).GetAsyncEnumerator(stopWatching.Token);
        await ReadUntilAsync(events, ContainerState.Stopped, seen);

        await container.StartAsync(cancellationToken: ct);
        await ReadUntilAsync(events, ContainerState.Running, seen);
        var running = await container.GetStatusAsync(ct);
        Assert.Equal(ContainerState.Running, running.State);
        Assert.NotNull(running.InitPid);
        var startRunning = await Assert.ThrowsAsync<ContainerStateException>(() => container.StartAsync(cancellationToken: ct));
        Assert.Equal(VirtErrorKind.Conflict, startRunning.ErrorKind);
        Assert.True((await container.GetStatsAsync(ct)).Pids >= 1);

        var echo = await container.ExecAsync(Command("echo", "hello"), ct);
        Assert.Equal((ContainerExecOutcome.Exited, 0, "hello\n"), (echo.Outcome, echo.ExitCode, echo.StandardOutput));
        var exit = await container.ExecAsync(Command("sh", "-c", "exit 3"), ct);
        Assert.Equal((ContainerExecOutcome.Exited, 3), (exit.Outcome, exit.ExitCode));

        await container.PushFileAsync("/tmp/contract.txt", new MemoryStream("pushed\n"u8.ToArray()), cancellationToken: ct);
        using var pulled = new MemoryStream();
        await container.PullFileAsync("/tmp/contract.txt", pulled, ct);
        Assert.Equal("pushed\n", Encoding.UTF8.GetString(pulled.ToArray()));
        var relative = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("tmp/contract.txt", Stream.Null, ct));
        Assert.Equal(VirtErrorKind.InvalidInput, relative.ErrorKind);
        await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/tmp/no-such-file", Stream.Null, ct));

        await container.FreezeAsync(StateTimeout, ct);
        await ReadUntilAsync(events, ContainerState.Frozen, seen);
        Assert.Equal(ContainerState.Frozen, (await container.GetStatusAsync(ct)).State);
        await container.UnfreezeAsync(StateTimeout, ct);
        await ReadUntilAsync(events, ContainerState.Thawed, seen);
        Assert.Equal(ContainerState.Running, (await container.GetStatusAsync(ct)).State);

        var deleteRunning = await Assert.ThrowsAsync<ContainerStateException>(() => Manager.DeleteAsync("contract", cancellationToken: ct));
        Assert.Equal((VirtErrorKind.Conflict, ContainerState.Running), (deleteRunning.ErrorKind, deleteRunning.State));

        await container.StopAsync(StateTimeout, ct);
        await ReadUntilAsync(events, ContainerState.Stopped, seen);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
        await stopWatching.CancelAsync();
        AssertInOrder([ContainerState.Stopped, ContainerState.Running, ContainerState.Freezing, ContainerState.Frozen, ContainerState.Thawed, ContainerState.Stopping, ContainerState.Stopped], seen);
        var statsStopped = await Assert.ThrowsAsync<ContainerStateException>(() => container.GetStatsAsync(ct));
        Assert.Equal(VirtErrorKind.Conflict, statsStopped.ErrorKind);

        await Manager.DeleteAsync("contract", cancellationToken: ct);
        var gone = await Assert.ThrowsAsync<ContainerNotFoundException>(() => Manager.GetAsync("contract", ct));
        Assert.Equal(VirtErrorKind.NotFound, gone.ErrorKind);
        Assert.DoesNotContain(await Manager.ListAsync(ct), c => c.Name == "contract");
    }

    [Fact]
    public async Task A_missing_container_is_not_found()
    {
        var ct = TestContext.Current.CancellationToken;
        var get = await Assert.ThrowsAsync<ContainerNotFoundException>(() => Manager.GetAsync("no-such-container", ct));
        Assert.Equal((VirtErrorKind.NotFound, "no-such-container"), (get.ErrorKind, get.ContainerName));
        var delete = await Assert.ThrowsAsync<ContainerNotFoundException>(() => Manager.DeleteAsync("no-such-container", cancellationToken: ct));
        Assert.Equal(VirtErrorKind.NotFound, delete.ErrorKind);
        var invalidName = await Assert.ThrowsAsync<ContainerNotFoundException>(() => Manager.GetAsync("Not A Name", ct));
        Assert.Equal(VirtErrorKind.NotFound, invalidName.ErrorKind);
    }

    [Fact]
    public async Task An_invalid_spec_is_refused_with_every_problem_and_nothing_is_created()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = Spec("invalid") with { Hostname = "-bad-", Limits = new ContainerLimits { Pids = 0 } };
        var invalid = await Assert.ThrowsAsync<InvalidContainerSpecException>(() => Manager.CreateAsync(spec, ct));
        Assert.Equal(VirtErrorKind.InvalidInput, invalid.ErrorKind);
        Assert.Contains(invalid.Problems, p => p.Field == "Hostname");
        Assert.True(invalid.Problems.Count >= 2, string.Join("; ", invalid.Problems));
        var badName = await Assert.ThrowsAsync<InvalidContainerSpecException>(() => Manager.CreateAsync(Spec("ok") with { Name = "Bad_Name" }, ct));
        Assert.Contains(badName.Problems, p => p.Field == "Name");
        Assert.Empty(await Manager.ListAsync(ct));
    }

    private static ContainerExecRequest Command(params string[] command) => new(command) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Reads events until <paramref name="state"/> arrives, recording each.</summary>
    private static async Task ReadUntilAsync(IAsyncEnumerator<ContainerEvent> events, ContainerState state, List<ContainerState> seen)
    {
        while (await events.MoveNextAsync())
        {
            Assert.Equal("contract", events.Current.ContainerName);
            seen.Add(events.Current.State);
            if (events.Current.State == state)
            {
                return;
            }
        }

        Assert.Fail($"the events ended before {state}; seen: {string.Join(", ", seen)}");
    }

    /// <summary>Each expected state appears, in this order (a backend may report more in between, e.g. Starting).</summary>
    private static void AssertInOrder(IReadOnlyList<ContainerState> expected, List<ContainerState> seen)
    {
        var at = 0;
        foreach (var state in seen)
        {
            if (at < expected.Count && state == expected[at])
            {
                at++;
            }
        }

        Assert.True(at == expected.Count, $"expected {string.Join(", ", expected)} in order; seen: {string.Join(", ", seen)}");
    }
}
