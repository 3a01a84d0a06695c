using System.Diagnostics;

namespace Virt.Benchmarks;

/// <summary>A <c>qemu-system-x86_64 -machine none -S</c> with a QMP socket, killed by its PID on dispose.</summary>
internal sealed class QemuUnderTest : IDisposable
{
    private readonly Process _process;

    public QemuUnderTest()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("virt-bench-").FullName;
        QmpSocket = Path.Combine(Directory, "qmp.sock");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("VIRT_QEMU") ?? "qemu-system-x86_64") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in new[] { "-nodefaults", "-no-user-config", "-display", "none", "-machine", "none", "-S", "-qmp", $"unix:{QmpSocket},server=on,wait=off" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("QEMU did not start");
        var watch = Stopwatch.StartNew();
        while (!File.Exists(QmpSocket))
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

    public string QmpSocket { get; }

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
