using Virt.Kvm.GuestAgent;
using Virt.Kvm.Testing;
using Virt.Kvm.Tests.Fakes;

namespace Virt.Kvm.Tests.Security;

/// <summary>
/// A guest controls what its agent sends: an endless reply must end in a typed error at the size
/// cap, not in memory growing with what the guest sends. (QMP's cap is covered by QmpClientTests.)
/// Allocation is counted process-wide, so nothing else may run meanwhile (see the collection).
/// </summary>
[Collection(AllocationMeasuringCollection.Name)]
public sealed class ProtocolLimitSecurityTests
{
    [Fact]
    public async Task An_agent_reply_that_never_ends_fails_at_the_cap_without_memory_growing_with_it()
    {
        await using var agent = new FakeGuestAgent();
        using var flooding = new CancellationTokenSource();
        var sent = 0L;
        agent.Replies["guest-ping"] = command =>
        {
            // The reply starts and never ends: 64 KiB of 'x' after 64 KiB, no newline, until the test stops it.
            _ = Task.Run(async () =>
            {
                // After the fake has sent this handler's (empty) line: the reply proper starts and never ends.
                await Task.Delay(500);
                await agent.SendAsync("{\"return\": {\"big\": \"");
                var chunk = new string('x', 64 * 1024);
                while (!flooding.IsCancellationRequested)
                {
                    try
                    {
                        await agent.SendAsync(chunk);
                        Interlocked.Add(ref sent, chunk.Length);
                    }
                    catch (Exception)
                    {
                        return;
                    }
                }
            });
            return string.Empty;
        };
        var options = new GuestAgentOptions { DefaultTimeout = TimeSpan.FromSeconds(60), SyncTimeout = TimeSpan.FromSeconds(5), MaxMessageSize = 1024 * 1024 };
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, options, cancellationToken: TestContext.Current.CancellationToken);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var error = await Assert.ThrowsAsync<GuestAgentException>(() => client.PingAsync(TestContext.Current.CancellationToken));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        await flooding.CancelAsync();

        Assert.Equal("MessageTooLarge", error.ErrorClass);
        Assert.Contains("1048576", error.Message, StringComparison.Ordinal);
        Assert.True(Interlocked.Read(ref sent) >= 1024 * 1024, $"the fake sent only {sent} bytes");
        Assert.True(allocated < 64L * 1024 * 1024, $"{allocated:N0} bytes were allocated while reading a reply capped at 1 MiB");
    }

    [Fact]
    public async Task A_complete_agent_line_over_the_cap_is_refused_too()
    {
        await using var agent = new FakeGuestAgent();
        agent.Replies["guest-ping"] = _ => "{\"return\": {\"big\": \"" + new string('x', 2 * 1024 * 1024) + "\"}}";
        var options = new GuestAgentOptions { DefaultTimeout = TimeSpan.FromSeconds(60), SyncTimeout = TimeSpan.FromSeconds(5), MaxMessageSize = 1024 * 1024 };
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, options, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<GuestAgentException>(() => client.PingAsync(TestContext.Current.CancellationToken));

        Assert.Equal("MessageTooLarge", error.ErrorClass);
    }
}

/// <summary>Tests that count the process's allocated bytes run alone: other tests' allocations would be counted too.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasuringCollection
{
    public const string Name = "allocation-measuring";
}
