namespace Virt.VirtualMachines;

/// <summary>Where a VM's consoles and channels are on the host (they exist while it runs).</summary>
/// <param name="SerialLog">Everything the serial console printed (appended across runs).</param>
/// <param name="SerialSocket">A unix socket for an interactive serial console, or <see langword="null"/> when the VM has none.</param>
/// <param name="QmpSocket">The QMP monitor socket.</param>
/// <param name="GuestAgentSocket">The guest agent's socket, or <see langword="null"/> when the VM has no agent channel.</param>
/// <param name="Vnc">The VNC endpoint ("unix:PATH" or "127.0.0.1:PORT"), or <see langword="null"/>.</param>
/// <param name="Log">The hypervisor's own log (QEMU's stdout and stderr).</param>
public sealed record VmEndpoints(string SerialLog, string? SerialSocket, string QmpSocket, string? GuestAgentSocket, string? Vnc, string Log);
