using System.Diagnostics;
using System.Text;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>
/// A QEMU process started by a test, in a private directory, always killed (by its own PID) and
/// cleaned up on dispose.
/// </summary>
internal sealed class QemuProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private QemuProcess(Process process, string directory)
    {
        _process = process;
        Directory = directory;
    }

    public string Directory { get; }

    public string QmpSocket => Path.Combine(Directory, "qmp.sock");

    public string AgentSocket => Path.Combine(Directory, "qga.sock");

    public string SerialLog => Path.Combine(Directory, "serial.log");

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts QEMU with a QMP socket in the private directory plus the given arguments.</summary>
    public static async Task<QemuProcess> StartAsync(IEnumerable<string> arguments, bool withQmpSocket = true, Action<string>? prepare = null, string? binary = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("virt-it-").FullName;
        prepare?.Invoke(directory);
        var startInfo = new ProcessStartInfo(binary ?? QemuBinary.Path) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        startInfo.ArgumentList.Add("-nodefaults");
        startInfo.ArgumentList.Add("-no-user-config");
        startInfo.ArgumentList.Add("-display");
        startInfo.ArgumentList.Add("none");
        if (withQmpSocket)
        {
            startInfo.ArgumentList.Add("-qmp");
            startInfo.ArgumentList.Add($"unix:{Path.Combine(directory, "qmp.sock")},server=on,wait=off");
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument.Replace("{dir}", directory, StringComparison.Ordinal));
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("QEMU did not start");
        var qemu = new QemuProcess(process, directory);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (qemu._stderr)
                {
                    qemu._stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (withQmpSocket)
        {
            await qemu.WaitUntilListeningAsync(qemu.QmpSocket, TimeSpan.FromSeconds(20));
        }

        return qemu;
    }

    /// <summary>
    /// Waits until QEMU listens on the socket. QEMU binds the path (the file appears) before it calls
    /// listen(), and a connect in between is refused: on a loaded machine that gap is long enough to hit.
    /// The check reads the kernel's socket table instead of connecting: a probe connection makes QEMU
    /// greet, see the hang-up and tear down a monitor session, and a test's own connect racing that
    /// tear-down was seen (once, in CI under load) to be closed by QEMU before the greeting.
    /// </summary>
    public async Task WaitUntilListeningAsync(string path, TimeSpan timeout)
    {
        // A socket listening at the path implies the file is there: one check covers both waits.
        var watch = Stopwatch.StartNew();
        while (!UnixSocketTable.IsListening(path))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"QEMU exited with {_process.ExitCode} before listening on {path}: {StandardError}");
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"QEMU did not listen on {path} within {timeout}: {StandardError}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Waits until the serial log contains the text.</summary>
    public async Task<string> WaitForSerialAsync(string text, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var log = File.Exists(SerialLog) ? await File.ReadAllTextAsync(SerialLog) : string.Empty;
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"QEMU exited with {_process.ExitCode} before the serial console showed '{text}'. stderr: {StandardError} serial: {log}");
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"the serial console did not show '{text}' within {timeout}. serial: {log}");
            }

            await Task.Delay(50);
        }
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    public void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            _ = Native.Kill(_process.Id, signal);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
