namespace Virt.Benchmarks;

/// <summary>
/// The SDK hands QEMU its monitors as inherited descriptors (<c>socket,id=virt-qmp,fd=3</c> and the control monitor on
/// the next one); a launch by hand has none, so each becomes a path monitor: the main one at the given path, the others
/// beside it, named by their chardev id.
/// </summary>
internal static partial class PathMonitors
{
    public static IEnumerable<string> Replace(IEnumerable<string> argv, string directory, string qmp) =>
        argv.Select(argument => InheritedMonitor().Match(argument) is { Success: true } match
            ? $"socket,id={match.Groups["id"].Value},path={(match.Groups["id"].Value == "virt-qmp" ? qmp : Path.Combine(directory, match.Groups["id"].Value + ".sock"))},{match.Groups["rest"].Value}"
            : argument);

    [System.Text.RegularExpressions.GeneratedRegex("^socket,id=(?<id>[^,]+),fd=[0-9]+,(?<rest>.*)$")]
    private static partial System.Text.RegularExpressions.Regex InheritedMonitor();
}
