using System.Diagnostics;
using System.IO.Abstractions;
using System.Text.Json;
using Virt.Network.Hosting;
using Virt.Network.IntegrationTests.Infrastructure;
using Virt.Network.IntegrationTests.Netlink;
using Virt.Network.Manager;
using Virt.Processes;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// A namespace and a state directory of the test's own, the real manager over them, what the namespace holds in
/// <c>ip -j</c> and <c>nft -j</c> words, and the second process (Virt.Network.CrashChild) started on the same two.
/// </summary>
internal sealed class ManagerLab : IDisposable
{
    private readonly List<Process> _children = [];

    private ManagerLab(string prefix)
    {
        Namespace = TestNamespace.Create(prefix);
        StateDirectory = Path.Combine(Path.GetTempPath(), "virt-network-it-" + Guid.NewGuid().ToString("N"));
    }

    public TestNamespace Namespace { get; }

    public string StateDirectory { get; }

    public string JournalPath => Path.Combine(StateDirectory, "journal", "apply.json");

    public static ManagerLab Create(string prefix) => new(prefix);

    /// <summary>A new manager over the lab's state directory and namespace, as a fresh process would make it.</summary>
    public NetworkManager NewManager() =>
        new(new NetworkOptions { StateDirectory = StateDirectory, NetworkNamespace = Namespace.Path }, new FileSystem(), new ProcessRunner());

    /// <summary>Every link as "name kind alias" (no index, MAC or state: what the definition decides).</summary>
    public IReadOnlyList<string> LinkNames() =>
        [.. Json("ip", "-j", "-d", "link", "show").EnumerateArray().Select(link => string.Join(' ',
            link.GetProperty("ifname").GetString(),
            link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var kind) ? kind.GetString() : "-",
            link.TryGetProperty("ifalias", out var alias) ? alias.GetString() : "-")).Order(StringComparer.Ordinal)];

    /// <summary>
    /// The links and the ruleset as <c>ip -j link</c> and <c>nft -j</c> print them, and the addresses, for before/after
    /// comparisons. Not <c>ip -d</c>, whose bridge timers tick, nor IPv6 link-local addresses, which the kernel adds when it will.
    /// </summary>
    public string Snapshot() =>
        string.Join('\n', [Namespace.Exec("ip", "-j", "link", "show"), .. IpJson.Addresses(Namespace), Namespace.Exec("nft", "-j", "list", "ruleset")]);

    /// <summary>The pids of the live dnsmasq processes in the namespace (a zombie has no command line and is not counted).</summary>
    public IReadOnlyList<int> DnsmasqPids() =>
        [.. TestNamespace.TryRun("ip", "netns", "pids", Namespace.Name).Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse)
            .Where(pid => CommandLine(pid).StartsWith("dnsmasq", StringComparison.Ordinal) || CommandLine(pid).Contains("/dnsmasq", StringComparison.Ordinal))];

    /// <summary>Starts Virt.Network.CrashChild on the lab's state directory and namespace; the lab owns it: killed (SIGKILL) by its pid and disposed on dispose.</summary>
    public Process StartChild(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Virt.Network.CrashChild.dll"));
        start.ArgumentList.Add(arguments[0]);
        start.ArgumentList.Add(StateDirectory);
        start.ArgumentList.Add(Namespace.Path);
        foreach (var argument in arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        var child = Process.Start(start)!;
        _children.Add(child);
        return child;
    }

    /// <summary>Reads the child's next line, which must start with <paramref name="prefix"/>; returns the rest.</summary>
    public static async Task<string> ExpectLineAsync(Process child, string prefix, CancellationToken cancellationToken)
    {
        var line = await child.StandardOutput.ReadLineAsync(cancellationToken);
        if (line is null || !line.StartsWith(prefix, StringComparison.Ordinal))
        {
            var error = line is null ? await child.StandardError.ReadToEndAsync(cancellationToken) : string.Empty;
            Assert.Fail($"the child printed '{line}' instead of '{prefix}...': {error}");
        }

        return line[prefix.Length..];
    }

    public void Dispose()
    {
        try
        {
            foreach (var child in _children)
            {
                using (child)
                {
                    if (!child.HasExited)
                    {
                        child.Kill();
                        child.WaitForExit(TimeSpan.FromSeconds(30));
                    }
                }
            }
        }
        finally
        {
            // The namespace goes whatever happened above: with it the dnsmasq processes started in it.
            Namespace.Dispose();
            if (Directory.Exists(StateDirectory))
            {
                Directory.Delete(StateDirectory, recursive: true);
            }
        }
    }

    private JsonElement Json(params string[] command)
    {
        using var document = JsonDocument.Parse(Namespace.Exec(command));
        return document.RootElement.Clone();
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}
