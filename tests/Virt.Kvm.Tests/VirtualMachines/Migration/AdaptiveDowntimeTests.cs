using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines.Migration;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>A migration that asks for no downtime limit starts at 5 ms and doubles it per pass over RAM that did not converge, up to 300 ms.</summary>
public sealed class AdaptiveDowntimeTests
{
    [Fact]
    public void The_limit_stays_through_the_first_look_at_dirty_memory_then_doubles_per_pass_up_to_QEMUs_default()
    {
        var downtime = new AdaptiveDowntime();

        Assert.Equal([null, null, 10, 20, 40, 80, 160, 300, null], new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 50 }.Select(passes => downtime.Next(passes)).ToArray());
        Assert.Equal(300, downtime.Current);
    }

    [Fact]
    public void Passes_missed_between_two_reports_are_caught_up_at_once_and_the_limit_never_falls()
    {
        var downtime = new AdaptiveDowntime();

        Assert.Equal(40, downtime.Next(5));
        Assert.Null(downtime.Next(3));
        Assert.Equal(40, downtime.Current);
    }

    [Fact]
    public void Under_TCG_the_limit_starts_and_stays_at_QEMUs_default()
    {
        var downtime = AdaptiveDowntime.For("tcg");

        Assert.Equal(300, downtime.Current);
        Assert.All(new long[] { 1, 2, 3, 8, 50 }, passes => Assert.Null(downtime.Next(passes)));
        Assert.Equal(5, AdaptiveDowntime.For("kvm").Current);
    }

    [Fact]
    public async Task A_report_of_a_pass_that_did_not_converge_raises_QEMUs_limit()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            switch (FakeQmpConnection.NameOf(command))
            {
                case "query-migrate":
                    await connection.ReturnAsync(command, new JsonObject { ["status"] = "active", ["total-time"] = 900, ["ram"] = QueryMigrateReplies.Ram(transferred: 1, remaining: 1, passes: 4) });
                    return true;
                case "migrate-set-parameters":
                    await connection.ReturnAsync(command, new JsonObject());
                    return true;
                default:
                    return false;
            }
        });
        var ct = TestContext.Current.CancellationToken;
        await using var qmp = await QmpClient.ConnectAsync(server.SocketPath, cancellationToken: ct);
        var downtime = new AdaptiveDowntime();

        await LiveMigration.PollAsync(qmp, "web", TimeSpan.FromSeconds(1), downtime, ct);
        await LiveMigration.PollAsync(qmp, "web", TimeSpan.FromSeconds(1), downtime, ct);

        // Raised once to 20 ms (fourth pass), not again for the same pass.
        var raised = Assert.Single((await server.FirstConnection).Received, command => FakeQmpConnection.NameOf(command) == "migrate-set-parameters");
        Assert.Equal(20, raised["arguments"]!["downtime-limit"]!.GetValue<long>());
    }
}
