namespace Virt.Lxc.IntegrationTests.Infrastructure;

/// <summary>
/// Tests skip, with the reason, on a machine without LXC — except in CI (<c>CI=true</c>), where a
/// missing feature is a failure: CI installs everything the tests need.
/// </summary>
internal static class HostRequirement
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void RequireLxc()
    {
        var present = File.Exists("/usr/bin/lxc-start") && Environment.UserName == "root";
        if (present)
        {
            return;
        }

        var missing = "LXC (apt-get install lxc) and root";
        if (InCi)
        {
            Assert.Fail($"CI=true, so this test may not skip, but the host lacks: {missing}");
        }

        Assert.Skip($"host lacks: {missing}");
    }
}
