using System.Globalization;
using System.Text.Json;

namespace Virt.Benchmarks;

/// <summary>
/// A network namespace a benchmark makes (<c>ip netns add</c>, a unique name) and removes on dispose, after killing the
/// processes still in it by the pids <c>ip netns pids</c> lists. Its links and nftables tables go with it.
/// </summary>
internal sealed class BenchmarkNamespace(string name) : IDisposable
{
    private bool created;

    public string Name { get; } = name;

    /// <summary>The path for NetworkOptions.NetworkNamespace.</summary>
    public string Path => "/run/netns/" + Name;

    public void Create()
    {
        HostCommand.Run("ip", "netns", "add", Name);
        created = true;
        HostCommand.Run("ip", "-n", Name, "link", "set", "lo", "up");
    }

    /// <summary>What is in the namespace, to check both sides built the same: bridges, veth host ends, nftables chains and rules.</summary>
    public string EndState(string table)
    {
        using var links = JsonDocument.Parse(HostCommand.Run("ip", "-n", Name, "-j", "-d", "link", "show"));
        var bridges = 0;
        var bridgesWithAddress = 0;
        var portsReady = 0;
        foreach (var link in links.RootElement.EnumerateArray())
        {
            var kind = link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var k) ? k.GetString() : null;
            if (kind == "bridge")
            {
                bridges++;
            }
            else if (kind == "veth" && link.TryGetProperty("master", out _) && link.TryGetProperty("ifalias", out _)
                && link.GetProperty("flags").EnumerateArray().Any(flag => flag.GetString() == "UP"))
            {
                portsReady++;
            }
        }

        using var addresses = JsonDocument.Parse(HostCommand.Run("ip", "-n", Name, "-j", "-4", "address", "show", "type", "bridge"));
        bridgesWithAddress = addresses.RootElement.EnumerateArray().Count(link => link.TryGetProperty("addr_info", out var info) && info.GetArrayLength() > 0);
        using var ruleset = JsonDocument.Parse(HostCommand.Run("ip", "netns", "exec", Name, "nft", "-j", "list", "table", "bridge", table));
        var items = ruleset.RootElement.GetProperty("nftables").EnumerateArray().ToList();
        int Count(string what) => items.Count(item => item.TryGetProperty(what, out _));
        return string.Create(CultureInfo.InvariantCulture, $"{bridges} bridges ({bridgesWithAddress} with an IPv4 address), {portsReady} veth host ends on a bridge, up, with an alias; table bridge {table}: {Count("chain")} chains, {Count("rule")} rules, {Count("map")} maps, {Count("set")} sets");
    }

    public void Dispose()
    {
        if (!created)
        {
            return;
        }

        try
        {
            foreach (var pid in HostCommand.Run("ip", "netns", "pids", Name).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(pid, CultureInfo.InvariantCulture, out var id))
                {
                    try
                    {
                        using var process = System.Diagnostics.Process.GetProcessById(id);
                        process.Kill();
                        process.WaitForExit(5000);
                    }
                    catch (ArgumentException)
                    {
                        // exited in the meantime
                    }
                }
            }

            HostCommand.Run("ip", "netns", "delete", Name);
        }
        catch (InvalidOperationException ex)
        {
            Console.Error.WriteLine($"could not remove network namespace {Name}: {ex.Message}; remove it with: ip netns delete {Name}");
        }
    }
}
