using System.Globalization;
using System.Text;
using Virt.Containers;

namespace Virt.Testing;

/// <summary>
/// Runs a command in an <see cref="InMemoryContainer"/>: asks the test's handler, falls back to a few
/// built-in busybox commands, and shapes the answer as the LXC backend does (streams or collected and
/// capped output, combined output, signal exit codes, the timeout).
/// </summary>
internal static class InMemoryExec
{
    private const int FirstSignalCode = 129;
    private const int LastSignalCode = 128 + 64;

    public static async Task<ContainerExecResult> RunAsync(InMemoryContainer container, ContainerExecRequest request, Func<ContainerExecRequest, CancellationToken, Task<InMemoryExecResponse?>>? handler, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        using var timeout = new CancellationTokenSource(request.Timeout, time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        InMemoryExecResponse response;
        try
        {
            response = (handler is null ? null : await handler(request, deadline.Token).ConfigureAwait(false))
                ?? await RunBuiltinAsync(container, request, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ContainerExecTimeoutException(container.Name, string.Join(' ', request.Command), request.Timeout);
        }

        var output = Encoding.UTF8.GetBytes(response.StandardOutput);
        var error = Encoding.UTF8.GetBytes(response.StandardError);
        if (request.CombineOutput)
        {
            output = [.. output, .. error];
            error = [];
        }

        var (collectedOutput, outputTruncated) = await DeliverAsync(output, request.StandardOutput, request.MaxCollectedOutputBytes, cancellationToken).ConfigureAwait(false);
        var (collectedError, errorTruncated) = await DeliverAsync(error, request.CombineOutput ? null : request.StandardError, request.MaxCollectedOutputBytes, cancellationToken).ConfigureAwait(false);
        var (outcome, signal) = response switch
        {
            { ProgramNotFound: true } => (ContainerExecOutcome.CommandNotFound, (int?)null),
            { ExitCode: >= FirstSignalCode and <= LastSignalCode } => (ContainerExecOutcome.Signaled, response.ExitCode - 128),
            _ => (ContainerExecOutcome.Exited, null),
        };
        return new ContainerExecResult(outcome, response.ExitCode, signal, collectedOutput, collectedError, time.GetElapsedTime(started))
        {
            StandardOutputTruncated = outputTruncated,
            StandardErrorTruncated = errorTruncated,
        };
    }

    /// <summary>Writes to the caller's stream when there is one (and collects nothing), else collects up to the cap.</summary>
    private static async Task<(string Collected, bool Truncated)> DeliverAsync(byte[] bytes, Stream? stream, int cap, CancellationToken cancellationToken)
    {
        if (stream is not null)
        {
            await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            return (string.Empty, false);
        }

        return bytes.Length > cap ? (Encoding.UTF8.GetString(bytes, 0, cap), true) : (Encoding.UTF8.GetString(bytes), false);
    }

    /// <summary>The commands a test most often needs without scripting: what busybox would print for them.</summary>
    private static async Task<InMemoryExecResponse> RunBuiltinAsync(InMemoryContainer container, ContainerExecRequest request, CancellationToken cancellationToken)
    {
        var command = request.Command;
        var arguments = command.Skip(1).ToList();
        switch (Path.GetFileName(command[0]))
        {
            case "echo":
                return new(0, string.Join(' ', arguments) + "\n");
            case "true":
                return new(0);
            case "false":
                return new(1);
            case "hostname":
                return new(0, (container.Spec.Hostname ?? container.Name) + "\n");
            case "cat" when arguments.Count == 0:
                return new(0, request.StandardInput is null ? string.Empty : await new StreamReader(request.StandardInput).ReadToEndAsync(cancellationToken).ConfigureAwait(false));
            case "cat":
                return Cat(container, arguments);
            case "sh" when arguments is ["-c", var script, ..]:
                var words = script.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (words is ["exit", var code] && int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var exitCode))
                {
                    return new(exitCode & 0xFF);
                }

                // One simple command without quoting; anything else needs an ExecHandler.
                return words.Length == 0 ? new(0) : await RunBuiltinAsync(container, request with { Command = words }, cancellationToken).ConfigureAwait(false);
            default:
                return new(127, StandardError: $"lxc-attach: {container.Name}: Failed to exec \"{command[0]}\": the in-memory container has no such built-in command; script it with InMemoryContainer.ExecHandler\n") { ProgramNotFound = true };
        }
    }

    private static InMemoryExecResponse Cat(InMemoryContainer container, List<string> paths)
    {
        var output = new StringBuilder();
        var error = new StringBuilder();
        foreach (var path in paths)
        {
            try
            {
                output.Append(Encoding.UTF8.GetString(container.Files.Read(path)));
            }
            catch (ContainerPathException)
            {
                error.Append(CultureInfo.InvariantCulture, $"cat: can't open '{path}': No such file or directory\n");
            }
        }

        return new(error.Length == 0 ? 0 : 1, output.ToString(), error.ToString());
    }
}
