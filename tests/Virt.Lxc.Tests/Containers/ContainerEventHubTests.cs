using Virt.Containers;
using Virt.Lxc.Containers;

namespace Virt.Lxc.Tests.Containers;

/// <summary>A watcher that does not read cannot grow memory without bound: its queue keeps the newest states and counts what it dropped.</summary>
public sealed class ContainerEventHubTests
{
    [Fact]
    public void A_watcher_that_falls_behind_keeps_the_newest_states_and_the_losses_are_counted()
    {
        var hub = new ContainerEventHub();
        var reader = hub.Subscribe("web", out var subscription);
        using (subscription)
        {
            const int published = ContainerEventHub.Capacity + 10;
            for (var i = 0; i < published; i++)
            {
                hub.Publish("web", i % 2 == 0 ? ContainerState.Frozen : ContainerState.Running);
            }

            hub.Publish("web", ContainerState.Stopped);

            Assert.Equal(ContainerEventHub.Capacity, reader.Count);
            Assert.Equal(published + 1 - ContainerEventHub.Capacity, hub.LostEvents);
            ContainerState last = default;
            while (reader.TryRead(out var state))
            {
                last = state;
            }

            Assert.Equal(ContainerState.Stopped, last);
        }
    }

    [Fact]
    public void A_watcher_that_keeps_up_loses_nothing()
    {
        var hub = new ContainerEventHub();
        var reader = hub.Subscribe("web", out var subscription);
        using (subscription)
        {
            for (var i = 0; i < ContainerEventHub.Capacity * 3; i++)
            {
                hub.Publish("web", ContainerState.Running);
                Assert.True(reader.TryRead(out _));
            }

            Assert.Equal(0, hub.LostEvents);
        }
    }
}
