using Virt.Containers;

namespace Virt.Lxc.IntegrationTests.Infrastructure;

internal static class InContainer
{
    public static Task<ContainerExecResult> RunAsync(IContainer container, params string[] command) =>
        container.ExecAsync(new ContainerExecRequest(command) { Timeout = TimeSpan.FromSeconds(30) }, TestContext.Current.CancellationToken);

    public static async Task<string> OutputAsync(IContainer container, params string[] command)
    {
        var result = await RunAsync(container, command);
        Assert.True(result.Outcome == ContainerExecOutcome.Exited && result.ExitCode == 0, $"{string.Join(' ', command)}: {result.Outcome} {result.ExitCode} {result.StandardError}");
        return result.StandardOutput;
    }
}
