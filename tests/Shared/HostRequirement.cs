using System.Diagnostics.CodeAnalysis;

namespace Virt.Tests;

/// <summary>
/// The one place a test decides to skip for a missing host feature. Tests skip, with the reason, on
/// a machine that lacks the feature — except in CI (<c>CI=true</c>), where a missing feature is a
/// failure: CI installs everything the tests need, so a skip there would hide a broken setup.
/// Linked into every test project by tests/Directory.Build.props.
/// </summary>
internal static class HostRequirement
{
    /// <summary>Whether this run is CI's (<c>CI=true</c>), where no test may skip.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns when <paramref name="present"/>; otherwise skips, or fails under CI.</summary>
    /// <param name="present">Whether the host has the feature.</param>
    /// <param name="whatIsMissing">The feature and how to get it, e.g. "isoinfo (apt-get install genisoimage)".</param>
    public static void Require([DoesNotReturnIf(false)] bool present, string whatIsMissing)
    {
        if (present)
        {
            return;
        }

        if (InCi)
        {
            Assert.Fail($"CI=true, so this test may not skip, but the host lacks: {whatIsMissing}");
        }

        Assert.Skip($"host lacks: {whatIsMissing}");
    }

    /// <summary>Requires a host tool in /usr/bin, /usr/sbin or /sbin, and root to run it.</summary>
    /// <param name="tool">The program's file name, e.g. "qemu-img".</param>
    /// <param name="package">The Debian package that installs it.</param>
    public static void RequireTool(string tool, string package)
    {
        var present = File.Exists("/usr/bin/" + tool) || File.Exists("/usr/sbin/" + tool) || File.Exists("/sbin/" + tool);
        Require(present && Environment.UserName == "root", $"{tool} ({package}) and root");
    }

    /// <summary>Requires LXC's tools and root.</summary>
    public static void RequireLxc() => Require(File.Exists("/usr/bin/lxc-start") && Environment.UserName == "root", "LXC (apt-get install lxc) and root");
}
