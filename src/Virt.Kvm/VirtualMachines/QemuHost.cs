using System.Net.Sockets;
using Virt.Kvm.Interop;

namespace Virt.Kvm.VirtualMachines;

/// <summary>The real <see cref="IQemuHost"/>: posix_spawn, /proc, waitpid and kill on this host.</summary>
internal sealed class QemuHost : IQemuHost
{
    /// <summary>The host's processes.</summary>
    public static readonly QemuHost Real = new();

    private QemuHost()
    {
    }

    public int Spawn(string program, IReadOnlyList<string> arguments, VmFiles files)
    {
        using var monitor = ListenOn(files.QmpSocket);
        using var control = ListenOn(files.ControlSocket);
        return QemuSpawner.Spawn(program, arguments, files.Log, [monitor.SafeHandle, control.SafeHandle]);
    }

    public PidFd? TryOpen(int pid) => ProcessIdentity.TryOpen(pid);

    public long? StartTicks(int pid) => ProcessIdentity.StartTicks(pid);

    public int? ParentPid(int pid) => ProcessIdentity.ParentPid(pid);

    public bool IsZombieOf(int pid, long startTicks) => ProcessIdentity.IsZombieOf(pid, startTicks);

    public bool IsSameQemu(VmRuntimeRecord record, string vmName, out PidFd? handle) => ProcessIdentity.IsSameQemu(record, vmName, out handle);

    public bool IsSameQemu(VmRuntimeRecord record, string vmName) => ProcessIdentity.IsSameQemu(record, vmName);

    public Task WaitUntilExitedAsync(VmRuntimeRecord record, string vmName, TimeProvider time, CancellationToken cancellationToken) =>
        QemuExit.WaitAsync(record, vmName, time, cancellationToken);

    public bool TryReap(int pid, out int? exitCode)
    {
        var result = LibC.WaitPid(pid, out var status, LibC.Wnohang);
        exitCode = result == pid ? LibC.DecodeExitStatus(status) : null;
        return result != 0;
    }

    public bool Kill(int pid, int signal) => LibC.Kill(pid, signal) == 0;

    /// <summary>
    /// A listening unix socket at <paramref name="path"/> (0600). .NET unlinks the path a listener
    /// bound when it is disposed; QEMU keeps listening on its copy of the descriptor after we let go,
    /// so a temporary name is bound and renamed. The real file system, not the injected one: a socket
    /// is bound by the kernel at a real path, and QEMU inherits the descriptor.
    /// </summary>
    private static Socket ListenOn(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            var bound = path + ".binding";
            File.Delete(bound);
            listener.Bind(new UnixDomainSocketEndPoint(bound));
            LibC.Chmod(bound, Convert.ToInt32("600", 8));
            listener.Listen(8);
            File.Move(bound, path, overwrite: true);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }
}
