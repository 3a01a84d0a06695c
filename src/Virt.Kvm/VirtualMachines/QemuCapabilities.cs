namespace Virt.Kvm.VirtualMachines;

/// <summary>What an installed QEMU binary offers, probed once per binary (path + modification time).</summary>
/// <param name="BinaryPath">The binary.</param>
/// <param name="Version">Its version.</param>
/// <param name="Machines">Machine types it knows (e.g. "q35", "pc-q35-7.2", "microvm").</param>
/// <param name="Accelerators">Accelerators compiled in (e.g. "kvm", "tcg").</param>
public sealed record QemuCapabilities(string BinaryPath, Version Version, IReadOnlySet<string> Machines, IReadOnlySet<string> Accelerators)
{
    /// <summary><c>-run-with user=</c> exists from 9.1 (and <c>-runas</c> is gone in 10.0).</summary>
    public bool HasRunWith => Version >= new Version(9, 1);

    /// <summary><c>-action panic=exit-failure</c> exists from 7.1: a panicked guest makes QEMU exit non-zero.</summary>
    public bool HasPanicExitFailure => Version >= new Version(7, 1);

    /// <summary>Chardev <c>reconnect-ms</c> replaced <c>reconnect</c> (seconds) in 9.2.</summary>
    public bool HasReconnectMs => Version >= new Version(9, 2);
}
