namespace Virt.VirtualMachines;

/// <summary>One thing wrong with a <see cref="VmSpec"/>.</summary>
/// <param name="Field">The field, as a path (e.g. "Disks[1].Path").</param>
/// <param name="Message">What is wrong and how to fix it.</param>
public sealed record VmSpecProblem(string Field, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>A <see cref="VmSpec"/> failed validation; nothing was created or started.</summary>
public sealed class InvalidVmSpecException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM's name as given.</param>
    /// <param name="problems">Everything found wrong.</param>
    public InvalidVmSpecException(string vmName, IReadOnlyList<VmSpecProblem> problems)
        : base(VirtErrorKind.InvalidInput, $"the spec of VM '{vmName}' is invalid: " + string.Join("; ", problems))
    {
        VmName = vmName;
        Problems = problems;
    }

    /// <summary>The VM's name as given.</summary>
    public string VmName { get; }

    /// <summary>Everything found wrong, each with its field and fix.</summary>
    public IReadOnlyList<VmSpecProblem> Problems { get; }
}
