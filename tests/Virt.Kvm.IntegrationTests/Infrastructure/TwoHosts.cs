using Virt.Tests.Lab;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>
/// Two "hosts" on one machine for the cross-host tests: a <see cref="HostLab"/> (tests/Virt.Tests.ChildManager/Lab) with
/// host-a at 192.0.2.1 and host-b at 192.0.2.2, each an SDK manager in its own process, state directory and network
/// namespace, joined through a bridge so migration traffic crosses links. Skips where the host cannot make them.
/// </summary>
internal sealed class TwoHosts : IAsyncDisposable
{
    public const string AddressA = "192.0.2.1";
    public const string AddressB = "192.0.2.2";

    private TwoHosts(HostLab lab)
    {
        Lab = lab;
    }

    public HostLab Lab { get; }

    public LabHost A => Lab["host-a"];

    public LabHost B => Lab["host-b"];

    public static async Task<TwoHosts> CreateAsync(CancellationToken cancellationToken, bool withRootLink = false)
    {
        TestGuest.Require();
        HostRequirement.Require(Environment.UserName == "root" && File.Exists("/usr/sbin/ip"), "root and iproute2, to make network namespaces");
        HostRequirement.Require(File.Exists("/usr/bin/openssl"), "openssl (apt-get install openssl), for the test certificates");
        var options = new HostLabOptions { QemuBinary = QemuBinary.Path, GuestDirectory = TestGuest.Directory, NamespacePrefix = "virt-mig", WithRootLink = withRootLink };
        return new TwoHosts(await HostLab.CreateAsync(["host-a", "host-b"], options, cancellationToken));
    }

    /// <summary>Ends host B's process (its manager lets go of the VMs, QEMU runs on) and starts a new one on the same state.</summary>
    public Task RestartBAsync() => Lab.RestartAsync("host-b");

    /// <summary>Kills host B's process, runs <paramref name="whileDown"/>, and starts a new one on the same state.</summary>
    public Task RestartBAfterKillAsync(Func<Task> whileDown) => Lab.RestartAsync("host-b", whileDown);

    public ValueTask DisposeAsync() => Lab.DisposeAsync();
}
