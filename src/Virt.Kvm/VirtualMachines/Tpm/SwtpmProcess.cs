using System.IO.Abstractions;
using Virt.IO;
using Virt.Kvm.Interop;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Tpm;

/// <summary>
/// The software TPM 2.0 of one VM: <c>swtpm socket</c> with its state in the VM's directory, spawned
/// like QEMU (own session, so it outlives the application with its VM) and started with
/// <c>--terminate</c>, so it ends when QEMU closes its connection. QEMU reaches it through
/// <c>-tpmdev emulator</c> on its control socket.
/// </summary>
internal static class SwtpmProcess
{
    public static async Task<int> StartAsync(IFileSystem fileSystem, string binary, VmFiles files, string vmName, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!fileSystem.File.Exists(binary))
        {
            throw new VmStartException(vmName, $"VM '{vmName}' has a TPM, but swtpm is not installed at '{binary}': apt-get install swtpm swtpm-tools, or set KvmOptions.SwtpmBinary", null, string.Empty);
        }

        if (files.Directory.Contains(',', StringComparison.Ordinal))
        {
            throw new VmStartException(vmName, $"VM '{vmName}': swtpm cannot take a state directory whose path contains a comma ('{files.Directory}'); choose another KvmOptions.StateDirectory", null, string.Empty);
        }

        OwnerOnly.CreateDirectory(fileSystem, files.TpmState);
        fileSystem.File.Delete(files.TpmSocket);
        var logStart = fileSystem.File.Exists(files.TpmLog) ? fileSystem.FileInfo.New(files.TpmLog).Length : 0;
        var pid = QemuSpawner.Spawn(binary, ["socket", "--tpm2", "--tpmstate", $"dir={files.TpmState},mode=0600", "--ctrl", $"type=unixio,path={files.TpmSocket},mode=0600", "--terminate"], files.TpmLog, []);
        var started = time.GetTimestamp();
        while (!fileSystem.File.Exists(files.TpmSocket))
        {
            var exited = LibC.WaitPid(pid, out _, LibC.Wnohang) == pid;
            if (exited || time.GetElapsedTime(started) > TimeSpan.FromSeconds(10))
            {
                if (!exited)
                {
                    // Our unreaped child: its pid cannot have been reused.
                    LibC.Kill(pid, LibC.SigKill);
                    _ = LibC.WaitPid(pid, out _, 0);
                }

                var log = fileSystem.File.Exists(files.TpmLog) ? (await fileSystem.File.ReadAllTextAsync(files.TpmLog, CancellationToken.None).ConfigureAwait(false))[(int)Math.Min(logStart, fileSystem.FileInfo.New(files.TpmLog).Length)..] : string.Empty;
                throw new VmStartException(vmName, $"swtpm for VM '{vmName}' did not open its socket: {log.Trim()}", null, log);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), time, cancellationToken).ConfigureAwait(false);
        }

        return pid;
    }

    /// <summary>
    /// Ends swtpm if it still runs (it normally ends with QEMU) and collects it when it is our child.
    /// The signal goes through a process descriptor opened before checking that the pid is still
    /// swtpm with the recorded start time, so a process that reused the pid is never hit.
    /// </summary>
    public static void Stop(int pid, long? startTicks)
    {
        using var process = ProcessIdentity.TryOpen(pid);
        if (!IsSwtpm(pid) || (startTicks is { } ticks && ProcessIdentity.StartTicks(pid) != ticks))
        {
            if (startTicks is { } recorded && ProcessIdentity.IsZombieOf(pid, recorded))
            {
                _ = LibC.WaitPid(pid, out _, LibC.Wnohang);
            }

            return;
        }

        if (process is not null)
        {
            process.Signal(LibC.SigKill);
        }
        else
        {
            LibC.Kill(pid, LibC.SigKill);
        }

        for (var i = 0; i < 200 && LibC.WaitPid(pid, out _, LibC.Wnohang) == 0; i++)
        {
            Thread.Sleep(5);
        }
    }

    /// <summary>Whether the pid is (still) an swtpm process, so a reused pid is never signalled. Reads the real /proc: a host process, not an SDK file.</summary>
    public static bool IsSwtpm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() == "swtpm" && File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] != "Z";
        }
        catch (IOException)
        {
            return false;
        }
    }
}
