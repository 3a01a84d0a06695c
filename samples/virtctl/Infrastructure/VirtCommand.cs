using Spectre.Console.Cli;

namespace Virt.Ctl.Infrastructure;

/// <summary>A command run against the composed SDK; an error is printed with its fix and mapped to an exit code.</summary>
internal abstract class VirtCommand<TSettings> : AsyncCommand<TSettings>
    where TSettings : GlobalSettings
{
    /// <summary>The parsed command line, with what came after <c>--</c> in <c>Remaining.Raw</c>.</summary>
    protected CommandContext Context { get; private set; } = null!;

    public sealed override async Task<int> ExecuteAsync(CommandContext context, TSettings settings, CancellationToken cancellationToken)
    {
        Context = context;
        try
        {
            await using var host = new VirtHost(settings);
            return await RunAsync(host, settings, cancellationToken);
        }
        catch (Exception exception) when (exception is VirtException or ArgumentException or FormatException or TimeoutException or InvalidOperationException)
        {
            var code = ExitCodes.For(exception);
            Output.Error(exception, code);
            return code;
        }
    }

    protected abstract Task<int> RunAsync(VirtHost host, TSettings settings, CancellationToken cancellationToken);
}
