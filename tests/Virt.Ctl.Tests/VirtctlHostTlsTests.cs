namespace Virt.Ctl.Tests;

/// <summary>virtctl host tls init|issue, and vm migrate --to a panel refusing what it cannot do safely.</summary>
public sealed class VirtctlHostTlsTests
{
    [Fact(Timeout = 120_000)]
    public async Task Init_makes_a_CA_issue_writes_a_hosts_QEMU_directory_and_a_second_init_is_refused()
    {
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        var ca = Path.Combine(virtctl.State, "ca");
        var hostB = Path.Combine(virtctl.State, "tls-host-b");

        var created = await virtctl.JsonAsync("host", "tls", "init", "--ca", ca, "--name", "lab hosts");
        var issued = await virtctl.JsonAsync("host", "tls", "issue", "--ca", ca, "--host", "host-b", "--address", "192.0.2.2", "--out", hostB);
        var again = await virtctl.RunAsync("host", "tls", "init", "--ca", ca);

        Assert.Equal("CN=lab hosts", created.GetProperty("subject").GetString());
        Assert.Equal("host-b", issued.GetProperty("hostName").GetString());
        Assert.Equal(["host-b", "192.0.2.2"], issued.GetProperty("names").EnumerateArray().Select(name => name.GetString()));
        foreach (var file in new[] { "ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem", "client-key.pem" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(hostB, file)));
        }

        Assert.False(File.Exists(Path.Combine(hostB, "ca-key.pem")));
        Assert.Equal(4, again.ExitCode);
        Assert.Contains("already", again.Error + again.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Issue_without_a_CA_says_how_to_make_one()
    {
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);

        var result = await virtctl.RunAsync("host", "tls", "issue", "--ca", Path.Combine(virtctl.State, "nothing"), "--host", "host-b", "--out", Path.Combine(virtctl.State, "out"));

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("virtctl host tls init", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Migrating_to_a_panel_needs_a_token_and_https_and_names_an_unreachable_panel()
    {
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        await virtctl.JsonAsync("vm", "create", "web", "--test-guest");
        var tokenFile = Path.Combine(virtctl.State, "host-token");
        await File.WriteAllTextAsync(tokenFile, "0123456789abcdef0123456789abcdef\n", TestContext.Current.CancellationToken);
        virtctl.Environment["VIRT_HOST_TOKEN"] = string.Empty;

        var noToken = await virtctl.RunAsync("vm", "migrate", "web", "--to", "https://192.0.2.2:8006");
        var clearText = await virtctl.RunAsync("vm", "migrate", "web", "--to", "http://192.0.2.2:8006", "--token-file", tokenFile);
        var unreachable = await virtctl.RunAsync("vm", "migrate", "web", "--to", "http://127.0.0.1:9", "--token-file", tokenFile);

        Assert.Equal(2, noToken.ExitCode);
        Assert.Contains("--token-file", noToken.Error + noToken.Output, StringComparison.Ordinal);
        Assert.Equal(2, clearText.ExitCode);
        Assert.Contains("is not https", clearText.Error + clearText.Output, StringComparison.Ordinal);
        Assert.Equal(1, unreachable.ExitCode);
        Assert.Contains("could not reach the panel at http://127.0.0.1:9/", unreachable.Error + unreachable.Output, StringComparison.Ordinal);
    }
}
