using Virt.Processes;

namespace Virt.Lxc.Tests.Containers.Fakes;

/// <summary>
/// The host's tools behind <see cref="IProcessRunner"/>: records every command line and answers from
/// <see cref="Answer"/> (exit 0 with no output unless it says otherwise). Nothing is started.
/// </summary>
internal sealed class ScriptedTools : IProcessRunner
{
    private readonly List<string> _commands = [];

    /// <summary>The command lines run, in order.</summary>
    public IReadOnlyList<string> Commands => _commands;

    /// <summary>The exit code and standard output for a command (by its program and arguments).</summary>
    public Func<ProcessSpec, (int ExitCode, string StandardOutput)> Answer { get; set; } = _ => (0, string.Empty);

    public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default)
    {
        _commands.Add(spec.CommandLine);
        var (exitCode, output) = Answer(spec);
        return Task.FromResult(new ProcessResult(spec, exitCode, output, string.Empty, TimeSpan.Zero));
    }

    public IRunningProcess Start(ProcessSpec spec) => throw new InvalidOperationException($"the scripted tools do not stream '{spec.CommandLine}'");
}
