namespace Virt.Kvm.VirtualMachines;

/// <summary>The files of one VM inside its private (0700) state directory.</summary>
/// <param name="Directory">The VM's directory.</param>
internal sealed record VmFiles(string Directory)
{
    /// <summary>The spec, as JSON, written atomically.</summary>
    public string Spec => Path.Combine(Directory, "spec.json");

    /// <summary>What the running QEMU is (pid, start time, version, taps); present only while it runs.</summary>
    public string Runtime => Path.Combine(Directory, "runtime.json");

    /// <summary>
    /// Present while the VM is being received from another host (its QEMU waits with <c>-incoming defer</c>): when
    /// the ticket expires and who may send it. Removed once the VM has arrived; a VM found with it and no process
    /// receiving it never arrived.
    /// </summary>
    public string Incoming => Path.Combine(Directory, "incoming.json");

    /// <summary>
    /// Written by the process that migrated the VM to another host, just before it ends this host's QEMU: which QEMU
    /// (pid) went where. The owner, which sees that QEMU end, reports the run as migrated rather than quit. Removed
    /// with the run's other files.
    /// </summary>
    public string MigratedAway => Path.Combine(Directory, "migrated-away.json");

    /// <summary>QEMU's pid, for people and scripts.</summary>
    public string PidFile => Path.Combine(Directory, "qemu.pid");

    /// <summary>QEMU's stdout and stderr.</summary>
    public string Log => Path.Combine(Directory, "qemu.log");

    /// <summary>The QMP monitor socket (created by the SDK, listened on by QEMU).</summary>
    public string QmpSocket => Path.Combine(Directory, "qmp.sock");

    /// <summary>
    /// QEMU's second QMP monitor, for processes that do not own the VM: each operation connects,
    /// runs its commands and disconnects, one process at a time (under <see cref="OperationLock"/>).
    /// Absent for a QEMU started by a build older than this one.
    /// </summary>
    internal string ControlSocket => Path.Combine(Directory, "control.sock");

    /// <summary>Held (flock) by the process that owns the running VM: it keeps the main monitor for events, reaps QEMU and cleans up.</summary>
    internal string OwnerLock => Path.Combine(Directory, "owner.lock");

    /// <summary>Held (flock) for the length of each operation on the VM, by whichever process runs it.</summary>
    internal string OperationLock => Path.Combine(Directory, "operation.lock");

    /// <summary>The guest agent's socket: QEMU serves one client on it, so each agent call connects for its own length.</summary>
    public string AgentSocket => Path.Combine(Directory, "qga.sock");

    /// <summary>Held (flock) for the length of each guest-agent call, by whichever process makes it: the agent channel serves one client.</summary>
    internal string AgentLock => Path.Combine(Directory, "agent.lock");

    /// <summary>
    /// The VM's state events (pause, resume, reset, shutdown, stop) as JSON lines, appended by the owner for the
    /// processes that follow the run; bounded (see <see cref="VmEventJournal"/>).
    /// </summary>
    internal string EventJournal => Path.Combine(Directory, "events.jsonl");

    /// <summary>The interactive serial console socket.</summary>
    public string SerialSocket => Path.Combine(Directory, "serial.sock");

    /// <summary>Everything the serial console printed.</summary>
    public string SerialLog => Path.Combine(Directory, "serial.log");

    /// <summary>The VNC unix socket.</summary>
    public string VncSocket => Path.Combine(Directory, "vnc.sock");

    /// <summary>The VM's own copy of the UEFI variables.</summary>
    public string OvmfVars => Path.Combine(Directory, "OVMF_VARS.fd");

    /// <summary>The software TPM's state directory (0700).</summary>
    public string TpmState => Path.Combine(Directory, "tpm");

    /// <summary>swtpm's control socket, which QEMU connects to.</summary>
    public string TpmSocket => Path.Combine(Directory, "swtpm.sock");

    /// <summary>swtpm's output.</summary>
    public string TpmLog => Path.Combine(Directory, "swtpm.log");

    /// <summary>The cloud-init NoCloud seed image, rewritten at each start from the spec.</summary>
    public string CloudInitSeed => Path.Combine(Directory, "cidata.iso");
}
