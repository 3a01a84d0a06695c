using System.Globalization;
using System.IO.Abstractions;
using System.Text;
using System.Text.Json;
using Virt.Processes;

namespace Virt.Storage.Tests.Pools;

/// <summary>
/// A fake qemu-img behind <see cref="IProcessRunner"/>: an "image" is a text file holding its virtual size
/// and, on a second line, its backing file. It answers create, info, resize and convert as the real tool
/// would for those images, records every command line, and fails the commands <see cref="FailWhen"/> picks.
/// Its images live in the same (in-memory) file system as the pool's.
/// </summary>
internal sealed class ScriptedQemuImg(IFileSystem files) : IProcessRunner
{
    private readonly List<string> _commands = [];

    /// <summary>The command lines run, in order.</summary>
    public IReadOnlyList<string> Commands => _commands;

    /// <summary>Picks the commands (by their arguments) that fail with exit code 1 and this standard error.</summary>
    public Func<IReadOnlyList<string>, string?> FailWhen { get; set; } = _ => null;

    public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken = default)
    {
        var arguments = spec.Arguments;
        _commands.Add(spec.CommandLine);
        if (FailWhen(arguments) is { } error)
        {
            return Task.FromResult(new ProcessResult(spec, 1, string.Empty, error, TimeSpan.Zero));
        }

        var output = arguments[0] switch
        {
            "create" => Create(arguments),
            "info" => Info(arguments[^1], arguments[arguments.ToList().IndexOf("-f") + 1]),
            "resize" => Resize(arguments),
            _ => throw new InvalidOperationException($"the fake qemu-img does not know '{spec.CommandLine}'"),
        };
        return Task.FromResult(new ProcessResult(spec, 0, output, string.Empty, TimeSpan.Zero));
    }

    public IRunningProcess Start(ProcessSpec spec)
    {
        var arguments = spec.Arguments;
        _commands.Add(spec.CommandLine);
        if (arguments[0] != "convert")
        {
            throw new InvalidOperationException($"the fake qemu-img does not stream '{spec.CommandLine}'");
        }

        if (FailWhen(arguments) is { } error)
        {
            return new FinishedProcess(spec, 1, "    (50.00/100%)\r", error);
        }

        // A convert flattens: the copy has the size and no backing file.
        files.File.WriteAllText(arguments[^1], files.File.ReadAllLines(arguments[^2])[0]);
        return new FinishedProcess(spec, 0, "    (0.00/100%)\r    (50.00/100%)\r    (100.00/100%)\r", string.Empty);
    }

    private string Create(IReadOnlyList<string> arguments)
    {
        var backing = arguments.ToList().IndexOf("-b");
        if (backing >= 0)
        {
            // An overlay is as large as its base.
            var basePath = Path.Combine(Path.GetDirectoryName(arguments[^1])!, arguments[backing + 1]);
            files.File.WriteAllText(arguments[^1], files.File.ReadAllLines(basePath)[0] + "\n" + arguments[backing + 1]);
        }
        else
        {
            files.File.WriteAllText(arguments[^2], arguments[^1]);
        }

        return string.Empty;
    }

    private string Resize(IReadOnlyList<string> arguments)
    {
        var lines = files.File.ReadAllLines(arguments[^2]);
        lines[0] = arguments[^1];
        files.File.WriteAllText(arguments[^2], string.Join('\n', lines));
        return string.Empty;
    }

    private string Info(string path, string format)
    {
        var lines = files.File.ReadAllLines(path);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("format", format);
            json.WriteNumber("virtual-size", long.Parse(lines[0], CultureInfo.InvariantCulture));
            json.WriteNumber("actual-size", files.FileInfo.New(path).Length);
            if (lines.Length > 1)
            {
                json.WriteString("backing-filename", lines[1]);
                json.WriteString("backing-filename-format", "qcow2");
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A streamed run whose output is already all there.</summary>
    private sealed class FinishedProcess(ProcessSpec spec, int exitCode, string output, string error) : IRunningProcess
    {
        public ProcessSpec Spec { get; } = spec;

        public int Id => 0;

        public Stream StandardInput { get; } = Stream.Null;

        public Stream StandardOutput { get; } = new MemoryStream(Encoding.UTF8.GetBytes(output));

        public Stream StandardError { get; } = new MemoryStream(Encoding.UTF8.GetBytes(error));

        public bool HasExited => true;

        public Task<int> WaitForExitAsync(CancellationToken cancellationToken = default) => Task.FromResult(exitCode);

        public Task KillAsync() => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
