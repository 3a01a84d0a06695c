namespace Virt.IntegrationTests.Infrastructure;

/// <summary>
/// Integration tests skip, with the reason, on a machine that lacks a host feature — except in CI
/// (<c>CI=true</c>), where a missing feature is a failure: CI installs everything the tests need.
/// </summary>
internal static class HostRequirement
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void Require(bool present, string whatIsMissing)
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
}
