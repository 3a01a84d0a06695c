namespace Virt.Processes;

/// <summary>An external program to run: never a shell string, always an argument list.</summary>
/// <param name="FileName">The program, as a path or a name looked up on PATH.</param>
/// <param name="Arguments">The arguments, passed to the program as they are (no shell, no quoting).</param>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>How long the program may run before it is killed. Defaults to one minute.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Text written to the program's standard input, which is then closed. <see langword="null"/> closes it at once.</summary>
    public string? StandardInput { get; init; }

    /// <summary>The working directory; <see langword="null"/> keeps the caller's.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Extra environment variables; a <see langword="null"/> value removes the variable.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>The command line as a person would type it, for messages and logs.</summary>
    public string CommandLine => Arguments.Count == 0 ? FileName : FileName + " " + string.Join(' ', Arguments.Select(Quote));

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@+%".Contains(c, StringComparison.Ordinal))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
