using System.Diagnostics;

namespace Virt.Benchmarks;

/// <summary>
/// A <c>qemu-system-x86_64 -machine none -S</c> (or the booted q35 test guest) with one or more QMP
/// sockets, killed by its PID on dispose.
/// </summary>
internal sealed class QemuUnderTest : IDisposable
{
    private readonly Process _process;

    /// <param name="monitors">How many QMP sockets (one client each): qmp.sock, qmp1.sock, ...</param>
    /// <param name="bootGuest">Boot the test guest (q35, TCG, 256 MiB) instead of an empty paused machine.</param>
    public QemuUnderTest(int monitors = 1, bool bootGuest = false)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("virt-bench-").FullName;
        QmpSockets = [.. Enumerable.Range(0, monitors).Select(i => Path.Combine(Directory, i == 0 ? "qmp.sock" : $"qmp{i}.sock"))];
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("VIRT_QEMU") ?? "qemu-system-x86_64") { UseShellExecute = false, RedirectStandardError = true };
        var guest = Environment.GetEnvironmentVariable("VIRT_GUEST_DIR") ?? Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;
        var machine = bootGuest
            ? new[] { "-machine", "q35", "-accel", "tcg", "-m", "256", "-smp", "1", "-kernel", Path.Combine(guest, "vmlinuz"), "-initrd", Path.Combine(guest, "initramfs.gz"), "-append", "console=ttyS0 panic=-1 no_timer_check", "-serial", $"file:{Path.Combine(Directory, "serial.log")}" }
            : new[] { "-machine", "none", "-S" };
        foreach (var argument in new[] { "-nodefaults", "-no-user-config", "-display", "none" }.Concat(machine).Concat(QmpSockets.SelectMany(socket => new[] { "-qmp", $"unix:{socket},server=on,wait=off" })))
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("QEMU did not start");
        var watch = Stopwatch.StartNew();
        while (!QmpSockets.All(File.Exists))
        {
            if (_process.HasExited || watch.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new InvalidOperationException($"QEMU did not create {QmpSocket}: {_process.StandardError.ReadToEnd()}");
            }

            Thread.Sleep(5);
        }

        Version = Process.Start(new ProcessStartInfo(start.FileName, "--version") { RedirectStandardOutput = true })!.StandardOutput.ReadLine() ?? "?";
    }

    public string Directory { get; }

    /// <summary>The first monitor.</summary>
    public string QmpSocket => QmpSockets[0];

    public IReadOnlyList<string> QmpSockets { get; }

    public string Version { get; }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
