using System.Net.Sockets;
using System.Text;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Security;

/// <summary>
/// The command socket is an abstract name any local user can bind. A squatter must not make a stopped
/// container look running (push and pull would then go through the host's <c>/proc/1/root</c>), a huge
/// claimed answer must not be allocated, and a silent peer must not hang callers.
/// </summary>
public sealed class CommandSocketSecurityTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_socket_bound_by_nobody_does_not_make_a_stopped_container_run_and_push_pull_never_reach_the_host()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("squatted"), ct);
        var hostFile = $"/tmp/virt-squat-{Guid.NewGuid():N}";
        var shadowBefore = await File.ReadAllBytesAsync("/etc/shadow", ct);

        var squatter = await FakeCommandSockets.StartNobodySquatterAsync(FakeCommandSockets.SocketName(host.LxcPath, "squatted"));
        try
        {
            var status = await container.GetStatusAsync(ct);
            Assert.Equal(ContainerState.Stopped, status.State);
            Assert.Null(status.InitPid);
            Assert.Equal(ContainerState.Stopped, (await (await host.Manager.GetAsync("squatted", ct)).GetStatusAsync(ct)).State);

            await Assert.ThrowsAsync<ContainerStateException>(() => container.PushFileAsync(hostFile, new MemoryStream(Encoding.UTF8.GetBytes("written through the host's /proc/1/root")), cancellationToken: ct));
            var pulled = new MemoryStream();
            await Assert.ThrowsAsync<ContainerStateException>(() => container.PullFileAsync("/etc/shadow", pulled, ct));
            Assert.Empty(pulled.ToArray());

            // lxc-attach believes whatever the socket says (it asked the squatter for the init and crashed on its
            // answers): the SDK does not run it against a socket that is not the container's.
            var exec = await Assert.ThrowsAsync<ContainerAttachException>(() => container.ExecAsync(new ContainerExecRequest(["/bin/touch", hostFile]), ct));
            Assert.Contains("not running", exec.Message, StringComparison.Ordinal);

            // Starting names the squatter instead of LXC's bare "address in use".
            var refused = await Assert.ThrowsAsync<ContainerPreflightException>(() => container.StartAsync(cancellationToken: ct));
            Assert.Contains("uid 65534", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"pid {squatter.Id}", refused.Message, StringComparison.Ordinal);
            Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
        }
        finally
        {
            FakeCommandSockets.Kill(squatter);
        }

        Assert.False(File.Exists(hostFile));
        Assert.Equal(shadowBefore, await File.ReadAllBytesAsync("/etc/shadow", ct));

        // With the name free again the container starts and is seen running.
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal(ContainerState.Running, (await container.GetStatusAsync(ct)).State);
        await container.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task An_init_pid_that_is_not_the_containers_init_is_refused_even_from_a_root_socket()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("fakeinit"), ct);
        var hostFile = $"/tmp/virt-fakeinit-{Guid.NewGuid():N}";

        // pid 1 (the host's init) and this test process: real processes, neither a child of the container's monitor.
        foreach (var fakePid in new long[] { 1, Environment.ProcessId })
        {
            await using (FakeCommandSockets.Listen(FakeCommandSockets.SocketName(host.LxcPath, "fakeinit"), async (connection, token) =>
            {
                var command = await FakeCommandSockets.ReadRequestAsync(connection, token);
                await connection.SendAsync(FakeCommandSockets.Answer(0, 0, command == 3 ? 2 : fakePid), SocketFlags.None, token);
            }))
            {
                var status = await Assert.ThrowsAnyAsync<VirtException>(() => container.GetStatusAsync(ct));
                Assert.Contains($"init pid {fakePid}", status.Message, StringComparison.Ordinal);
                await Assert.ThrowsAnyAsync<VirtException>(() => container.PushFileAsync(hostFile, new MemoryStream(Encoding.UTF8.GetBytes("pwned")), cancellationToken: ct));
                var pulled = new MemoryStream();
                await Assert.ThrowsAnyAsync<VirtException>(() => container.PullFileAsync("/etc/shadow", pulled, ct));
                Assert.Empty(pulled.ToArray());
            }
        }

        Assert.False(File.Exists(hostFile));
    }

    [Fact(Timeout = 120_000)]
    public async Task An_answer_claiming_1_5_GB_fails_fast_without_the_allocation_and_the_list_still_completes()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("huge"), ct);
        var neighbour = await host.Manager.CreateAsync(LxcTestHost.Busybox("neighbour"), ct);
        await neighbour.StartAsync(cancellationToken: ct);

        await using var listener = FakeCommandSockets.Listen(FakeCommandSockets.SocketName(host.LxcPath, "huge"), async (connection, token) =>
        {
            await FakeCommandSockets.ReadRequestAsync(connection, token);
            await connection.SendAsync(FakeCommandSockets.Answer(0, 1_500_000_000, 2), SocketFlags.None, token);
            await Task.Delay(Timeout.Infinite, token);
        });

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var refused = await Assert.ThrowsAnyAsync<VirtException>(() => container.GetStatusAsync(ct));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Assert.Contains("1500000000-byte answer", refused.Message, StringComparison.Ordinal);
        Assert.Contains(FakeCommandSockets.SocketName(host.LxcPath, "huge"), refused.Message, StringComparison.Ordinal);
        Assert.Contains("uid 0", refused.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L * 1024 * 1024, $"{allocated} bytes allocated while refusing the answer");

        // Every container is listed, and the others' states are read as usual.
        var states = new Dictionary<string, string>();
        foreach (var listed in await host.Manager.ListAsync(ct))
        {
            try
            {
                states[listed.Name] = (await listed.GetStatusAsync(ct)).State.ToString();
            }
            catch (VirtException ex)
            {
                states[listed.Name] = "error: " + ex.Message;
            }
        }

        Assert.Equal(["huge", "neighbour"], states.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("Running", states["neighbour"]);
        Assert.StartsWith("error: ", states["huge"], StringComparison.Ordinal);
        await neighbour.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_socket_that_accepts_and_never_answers_hits_the_deadline()
    {
        await using var host = LxcTestHost.Create(options => options.CommandSocketTimeout = TimeSpan.FromSeconds(2));
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("silent"), ct);
        await using var listener = FakeCommandSockets.Listen(FakeCommandSockets.SocketName(host.LxcPath, "silent"), (_, token) => Task.Delay(Timeout.Infinite, token));

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => container.GetStatusAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct));
        Assert.Contains(FakeCommandSockets.SocketName(host.LxcPath, "silent"), timeout.Message, StringComparison.Ordinal);
        Assert.Contains("CommandSocketTimeout", timeout.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TimeoutException>(() => container.PullFileAsync("/etc/passwd", new MemoryStream(), ct).WaitAsync(TimeSpan.FromSeconds(60), ct));
    }
}
