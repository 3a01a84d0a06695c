using System.Diagnostics;

namespace Virt.Network.IntegrationTests.Infrastructure;

/// <summary>
/// A network namespace a test makes (<c>ip netns add</c>, a unique name) and removes by that name on dispose, with its
/// processes (dnsmasq started in it) killed by the pids found in it. Loopback is brought up.
/// </summary>
internal sealed class TestNamespace : IDisposable
{
    private TestNamespace(string name)
    {
        Name = name;
    }

    /// <summary>The namespace's name (under /run/netns).</summary>
    public string Name { get; }

    /// <summary>The path to pass as NetworkOptions.NetworkNamespace.</summary>
    public string Path => "/run/netns/" + Name;

    /// <summary>Makes a namespace named <c>vt-PREFIX-RANDOM</c>, or skips (or fails under CI) without root and iproute2.</summary>
    public static TestNamespace Create(string prefix)
    {
        HostRequirement.Require(File.Exists("/usr/bin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/sbin/ip"), "ip (apt-get install iproute2)");
        HostRequirement.Require(Environment.UserName == "root", "root (network namespaces)");
        var name = $"vt-{prefix}-{Guid.NewGuid().ToString("N")[..6]}";
        Run("ip", "netns", "add", name);
        var created = new TestNamespace(name);
        created.Exec("ip", "link", "set", "lo", "up");
        return created;
    }

    /// <summary>Runs a command inside the namespace and returns its standard output; throws with its output on failure.</summary>
    public string Exec(params string[] command) => Run(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Runs a command inside the namespace; returns the exit code and the output (both streams).</summary>
    public (int ExitCode, string Output) TryExec(params string[] command) => TryRun(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Runs a host command; throws with its output on failure.</summary>
    public static string Run(params string[] command)
    {
        var (exitCode, output) = TryRun(command);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"'{string.Join(' ', command)}' exited {exitCode}: {output}");
        }

        return output;
    }

    /// <summary>Runs a host command; returns the exit code and the output (both streams).</summary>
    public static (int ExitCode, string Output) TryRun(params string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{string.Join(' ', command)}' did not finish in 2 minutes");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>Kills the processes still in the namespace (by the pids <c>ip netns pids</c> lists), then deletes it.</summary>
    public void Dispose()
    {
        var (_, pids) = TryRun("ip", "netns", "pids", Name);
        foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(pid, out var id))
            {
                try
                {
                    using var process = Process.GetProcessById(id);
                    process.Kill();
                    process.WaitForExit(TimeSpan.FromSeconds(10));
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }
        }

        TryRun("ip", "netns", "delete", Name);
    }
}
