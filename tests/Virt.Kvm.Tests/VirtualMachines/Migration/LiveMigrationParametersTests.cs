using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>
/// QEMU keeps migration parameters from one migration to the next: every migration sets its own, QEMU's defaults where
/// it asks for none, so a retry after a throttled attempt does not crawl at that attempt's bandwidth.
/// </summary>
public sealed class LiveMigrationParametersTests
{
    [Fact]
    public async Task A_migration_that_asks_for_nothing_gets_QEMUs_bandwidth_and_the_adaptive_first_downtime_limit_and_one_that_asks_gets_its_own()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) is "migrate-set-parameters" or "migrate")
            {
                await connection.ReturnAsync(command, new JsonObject());
                return true;
            }

            return false;
        });
        await using var qmp = await QmpClient.ConnectAsync(server.SocketPath, cancellationToken: TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;

        await LiveMigration.StartAsync(qmp, "web", "unix:/tmp/a", new VmMigrationOptions { MaxBandwidth = 1 << 20, DowntimeLimit = TimeSpan.FromMilliseconds(30) }, adaptiveDowntime: null, ct);
        await LiveMigration.StartAsync(qmp, "web", "unix:/tmp/b", new VmMigrationOptions(), AdaptiveDowntime.For("kvm"), ct);
        await LiveMigration.StartAsync(qmp, "web", "unix:/tmp/c", new VmMigrationOptions(), AdaptiveDowntime.For("tcg"), ct);

        var parameters = (await server.FirstConnection).Received.Where(command => FakeQmpConnection.NameOf(command) == "migrate-set-parameters").Select(command => command["arguments"]!).ToList();
        Assert.Equal(3, parameters.Count);
        Assert.Equal((1 << 20, 30), (parameters[0]["max-bandwidth"]!.GetValue<long>(), parameters[0]["downtime-limit"]!.GetValue<long>()));
        Assert.Equal((128L << 20, 5), (parameters[1]["max-bandwidth"]!.GetValue<long>(), parameters[1]["downtime-limit"]!.GetValue<long>()));

        // Under TCG the adaptive limit starts (and stays) at QEMU's default: see AdaptiveDowntime.
        Assert.Equal((128L << 20, 300), (parameters[2]["max-bandwidth"]!.GetValue<long>(), parameters[2]["downtime-limit"]!.GetValue<long>()));
    }
}
