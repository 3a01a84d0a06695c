namespace Virt.Testing;

/// <summary>What a command run in an <see cref="InMemoryContainer"/> "did": returned by its <see cref="InMemoryContainer.ExecHandler"/>.</summary>
/// <param name="ExitCode">The exit code; 129-192 reads as killed by signal 1-64, as a shell reports it.</param>
/// <param name="StandardOutput">What it wrote to standard output.</param>
/// <param name="StandardError">What it wrote to standard error.</param>
public sealed record InMemoryExecResponse(int ExitCode = 0, string StandardOutput = "", string StandardError = "")
{
    /// <summary>The program does not exist in the container (the result's outcome is <c>CommandNotFound</c>).</summary>
    public bool ProgramNotFound { get; init; }
}
