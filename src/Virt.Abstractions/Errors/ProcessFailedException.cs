namespace Virt;

/// <summary>An external program the SDK ran (qemu-img, lxc-start, btrfs...) exited with a failure code.</summary>
public sealed class ProcessFailedException : VirtException
{
    /// <summary>Creates the exception from a finished process.</summary>
    /// <param name="commandLine">The program and its arguments, as run.</param>
    /// <param name="exitCode">The exit code the program returned.</param>
    /// <param name="standardErrorTail">The last part of what the program wrote to standard error.</param>
    public ProcessFailedException(string commandLine, int exitCode, string standardErrorTail)
        : base(VirtErrorKind.Failed, FormatMessage(commandLine, exitCode, standardErrorTail))
    {
        CommandLine = commandLine;
        ExitCode = exitCode;
        StandardErrorTail = standardErrorTail;
    }

    /// <summary>The program and its arguments, as run.</summary>
    public string CommandLine { get; }

    /// <summary>The exit code the program returned.</summary>
    public int ExitCode { get; }

    /// <summary>The last part (at most a few KiB) of what the program wrote to standard error.</summary>
    public string StandardErrorTail { get; }

    private static string FormatMessage(string commandLine, int exitCode, string standardErrorTail)
    {
        var said = string.IsNullOrWhiteSpace(standardErrorTail) ? "nothing on standard error" : standardErrorTail.Trim();
        return $"'{commandLine}' exited with code {exitCode}: {said}";
    }
}
