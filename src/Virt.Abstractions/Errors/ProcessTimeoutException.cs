namespace Virt;

/// <summary>An external program did not finish within its deadline; the SDK killed it.</summary>
public sealed class ProcessTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="commandLine">The program and its arguments, as run.</param>
    /// <param name="timeout">The deadline that passed.</param>
    public ProcessTimeoutException(string commandLine, TimeSpan timeout)
        : base($"'{commandLine}' did not finish within {timeout.TotalSeconds:0.###} s and was killed; raise the timeout if the host is busy")
    {
        CommandLine = commandLine;
        Timeout = timeout;
    }

    /// <summary>The program and its arguments, as run.</summary>
    public string CommandLine { get; }

    /// <summary>The deadline that passed.</summary>
    public TimeSpan Timeout { get; }
}
