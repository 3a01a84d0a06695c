using Microsoft.Extensions.Logging.Abstractions;
using Virt.Cluster.Ha;

// watchdog-probe MODE DEVICE TIMEOUT_SECONDS, inside the test guest:
//   clean-stop  keeps the device alive (a valid lease) for twice its timeout, then stops cleanly (the keeper disarms it);
//   crash       keeps it alive for its timeout, then the process ends without a clean stop (as a kill or crash would).
// Each step prints a line the test looks for; what the device does afterwards shows on QEMU's side.
if (args.Length != 3 || !int.TryParse(args[2], System.Globalization.CultureInfo.InvariantCulture, out var seconds))
{
    await Console.Error.WriteLineAsync("usage: Virt.Cluster.WatchdogProbe clean-stop|crash DEVICE TIMEOUT_SECONDS");
    return 2;
}

var timeout = TimeSpan.FromSeconds(seconds);
using var device = LinuxWatchdogDevice.Open(args[1], timeout);
await Console.Out.WriteLineAsync($"WATCHDOG-ARMED {device.Identity} timeout={device.Timeout.TotalSeconds}s");

// The agent's keeper on the real device, with a lease that holds: it keeps the device alive from its own thread.
var keeper = new HaWatchdogKeeper(() => device, device.Timeout, () => true, () => TimeSpan.FromSeconds(60), () => false, TimeSpan.FromSeconds(1), NullLogger.Instance);
keeper.Tick();
keeper.Start();
switch (args[0])
{
    case "clean-stop":
        await Task.Delay(timeout * 2);
        await keeper.DisposeAsync();
        await Console.Out.WriteLineAsync("WATCHDOG-DISARMED");
        return 0;
    case "crash":
        await Task.Delay(timeout);
        await Console.Out.WriteLineAsync("WATCHDOG-ABANDONED");
        await Console.Out.FlushAsync();

        // Ends the process at once: no finally, no dispose; the kernel closes the device without the magic close.
        Environment.FailFast("watchdog probe: ending without a clean stop");
        return 1;
    default:
        await Console.Error.WriteLineAsync($"unknown mode '{args[0]}'");
        return 2;
}
