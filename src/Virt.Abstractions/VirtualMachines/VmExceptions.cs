namespace Virt.VirtualMachines;

/// <summary>No VM of that name exists in the state directory.</summary>
public sealed class VmNotFoundException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The name looked up.</param>
    /// <param name="stateDirectory">Where it was looked up.</param>
    public VmNotFoundException(string vmName, string stateDirectory)
        : base(VirtErrorKind.NotFound, $"VM '{vmName}' does not exist in '{stateDirectory}': create it first, or check the name")
    {
        VmName = vmName;
    }

    /// <summary>The name looked up.</summary>
    public string VmName { get; }
}

/// <summary>A VM of that name already exists.</summary>
public sealed class VmAlreadyExistsException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The name.</param>
    public VmAlreadyExistsException(string vmName)
        : base(VirtErrorKind.Conflict, $"VM '{vmName}' already exists: choose another name, or delete the existing VM first")
    {
        VmName = vmName;
    }

    /// <summary>The name.</summary>
    public string VmName { get; }
}

/// <summary>The operation does not fit the VM's state (e.g. pausing a stopped VM, deleting a running one).</summary>
public sealed class VmStateException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="operation">What was tried.</param>
    /// <param name="state">The VM's state.</param>
    /// <param name="fix">What to do.</param>
    public VmStateException(string vmName, string operation, VmState state, string fix)
        : base(VirtErrorKind.Conflict, $"cannot {operation} VM '{vmName}' while it is {state.ToString().ToLowerInvariant()}: {fix}")
    {
        VmName = vmName;
        State = state;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }

    /// <summary>The VM's state when it was refused.</summary>
    public VmState State { get; }
}

/// <summary>QEMU could not start the VM. Nothing is left running.</summary>
public sealed class VmStartException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="message">What failed and the fix.</param>
    /// <param name="exitCode">QEMU's exit code, when it exited.</param>
    /// <param name="logTail">The end of QEMU's log (its stderr).</param>
    /// <param name="innerException">The cause, if any.</param>
    public VmStartException(string vmName, string message, int? exitCode, string logTail, Exception? innerException = null)
        : base(VirtErrorKind.Failed, message, innerException)
    {
        VmName = vmName;
        ExitCode = exitCode;
        LogTail = logTail;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }

    /// <summary>QEMU's exit code, when it exited.</summary>
    public int? ExitCode { get; }

    /// <summary>The end of QEMU's log (its stderr).</summary>
    public string LogTail { get; }
}

/// <summary>Another operation on the same VM held its lock past the deadline.</summary>
public sealed class VmLockTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="operation">What was tried.</param>
    /// <param name="holder">The operation that holds the lock.</param>
    /// <param name="heldFor">How long it has held it.</param>
    public VmLockTimeoutException(string vmName, string operation, string holder, TimeSpan heldFor)
        : base($"cannot {operation} VM '{vmName}': '{holder}' has held its lock for {heldFor.TotalSeconds:0.#} s; wait for it to finish or raise the lock timeout")
    {
        VmName = vmName;
        Holder = holder;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }

    /// <summary>The operation that holds the lock.</summary>
    public string Holder { get; }
}
