namespace Virt.Processes;

/// <summary>What a finished program returned.</summary>
/// <param name="Spec">What was run.</param>
/// <param name="ExitCode">The exit code.</param>
/// <param name="StandardOutput">Everything the program wrote to standard output.</param>
/// <param name="StandardError">Everything the program wrote to standard error.</param>
/// <param name="Duration">How long it ran.</param>
public sealed record ProcessResult(ProcessSpec Spec, int ExitCode, string StandardOutput, string StandardError, TimeSpan Duration)
{
    private const int StandardErrorTailLength = 4096;

    /// <summary>Throws <see cref="ProcessFailedException"/> unless the exit code is 0.</summary>
    /// <returns>This result, for chaining.</returns>
    public ProcessResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            var tail = StandardError.Length <= StandardErrorTailLength ? StandardError : StandardError[^StandardErrorTailLength..];
            throw new ProcessFailedException(Spec.CommandLine, ExitCode, tail);
        }

        return this;
    }
}
