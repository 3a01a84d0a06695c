using System.Diagnostics;

namespace Virt.Benchmarks;

/// <summary>
/// Another TCG guest spinning on the other core, the normal state of a virtualization host: the test
/// guest's kernel and initramfs with a script that prints BUSY-START and loops forever. Started with
/// <c>-daemonize</c>, awaited by its serial output, killed by its pidfile.
/// </summary>
internal sealed class BusyGuest : IDisposable
{
    private readonly string _directory;
    private readonly string _pidFile;

    private BusyGuest(string directory)
    {
        _directory = directory;
        _pidFile = Path.Combine(directory, "busy.pid");
    }

    public static async Task<BusyGuest> StartAsync()
    {
        var guest = Environment.GetEnvironmentVariable("VIRT_GUEST_DIR") ?? Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;
        var busy = new BusyGuest(Directory.CreateTempSubdirectory("virt-bench-busy-").FullName);
        var serial = Path.Combine(busy._directory, "serial.log");
        try
        {
            var result = await CFloor.RunAsync(Environment.GetEnvironmentVariable("VIRT_QEMU") ?? "qemu-system-x86_64",
            [
                "-machine", "q35", "-accel", "tcg", "-m", "256", "-smp", "1", "-nodefaults", "-display", "none",
                "-kernel", Path.Combine(guest, "vmlinuz"), "-initrd", Path.Combine(guest, "initramfs.gz"),
                "-append", "console=ttyS0 panic=-1 no_timer_check",
                "-fw_cfg", "name=opt/virt/script,string=echo BUSY-START; while :; do :; done",
                "-serial", $"file:{serial}", "-pidfile", busy._pidFile, "-daemonize",
            ], TimeSpan.FromSeconds(30));
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"the busy guest did not start (exit {result.ExitCode}): {result.Error}");
            }

            var watch = Stopwatch.StartNew();
            while (!File.Exists(serial) || !File.ReadAllText(serial).Contains("BUSY-START", StringComparison.Ordinal))
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(120))
                {
                    throw new InvalidOperationException($"the busy guest printed no BUSY-START within 120 s; its serial log is {serial}");
                }

                await Task.Delay(100);
            }

            Console.WriteLine($"busy TCG guest running (pid {File.ReadAllText(busy._pidFile).Trim()}), looping on the other core");
            return busy;
        }
        catch
        {
            busy.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (File.Exists(_pidFile) && int.TryParse(File.ReadAllText(_pidFile).Trim(), out var pid))
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }

        Directory.Delete(_directory, recursive: true);
    }
}
