using System.Text;
using System.Text.Json.Nodes;
using Virt.Kvm.CloudInit;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.CloudInit;

/// <summary>The NoCloud seed's documents, and the validation that keeps values in their place.</summary>
public sealed class NoCloudSeedTests
{
    private static readonly CloudInitSpec Full = new()
    {
        Hostname = "web-1",
        Users = [new CloudInitUser("deploy") { SshAuthorizedKeys = ["ssh-ed25519 AAAAC3Nza deploy@ci"], PasswordHash = "$6$salt$hash", Sudo = "ALL=(ALL) NOPASSWD:ALL", Groups = ["adm", "sudo"], Shell = "/bin/bash" }],
        Packages = ["nginx", "qemu-guest-agent"],
        WriteFiles = [new CloudInitFile("/etc/motd", "line one\nruncmd: [evil]\n") { Permissions = "0644", Owner = "root:root" }],
        RunCommands = [["systemctl", "enable", "--now", "nginx"]],
        Ethernets = [new CloudInitEthernet("eth0", "52:54:00:AA:BB:CC") { Addresses = ["192.0.2.10/24"], Nameservers = ["192.0.2.1"] }],
    };

    [Fact]
    public void The_documents_are_cloud_config_JSON_that_keeps_every_value_in_its_place()
    {
        var files = NoCloudSeed.Render("vm1", Full);

        var userData = Encoding.UTF8.GetString(files["user-data"]);
        Assert.StartsWith("#cloud-config\n", userData, StringComparison.Ordinal);
        var user = JsonNode.Parse(userData["#cloud-config\n".Length..])!;
        Assert.Equal("web-1", user["hostname"]!.GetValue<string>());
        Assert.Equal("deploy", user["users"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("adm,sudo", user["users"]![0]!["groups"]!.GetValue<string>());
        Assert.False(user["users"]![0]!["lock_passwd"]!.GetValue<bool>());
        Assert.Equal("line one\nruncmd: [evil]\n", user["write_files"]![0]!["content"]!.GetValue<string>());
        Assert.Single(user["runcmd"]!.AsArray());
        Assert.Equal("""{"instance-id":"vm1","local-hostname":"web-1"}""", Encoding.UTF8.GetString(files["meta-data"]).Trim());
        var network = JsonNode.Parse(files["network-config"])!;
        Assert.Equal(2, network["version"]!.GetValue<int>());
        Assert.Equal("52:54:00:aa:bb:cc", network["ethernets"]!["eth0"]!["match"]!["macaddress"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("CloudInit.Hostname")]
    [InlineData("CloudInit.Users[0].Name")]
    [InlineData("CloudInit.Users[0].SshAuthorizedKeys[0]")]
    [InlineData("CloudInit.Users[0].PasswordHash")]
    [InlineData("CloudInit.WriteFiles[0].Path")]
    [InlineData("CloudInit.Ethernets[0].MacAddress")]
    public void Values_with_line_breaks_traversal_or_clear_text_are_refused(string field)
    {
        var bad = field switch
        {
            "CloudInit.Hostname" => Full with { Hostname = "web\nruncmd: [x]" },
            "CloudInit.Users[0].Name" => Full with { Users = [new CloudInitUser("root\n- name: evil")] },
            "CloudInit.Users[0].SshAuthorizedKeys[0]" => Full with { Users = [new CloudInitUser("a") { SshAuthorizedKeys = ["ssh-ed25519 AAAA\nssh-rsa BBBB"] }] },
            "CloudInit.Users[0].PasswordHash" => Full with { Users = [new CloudInitUser("a") { PasswordHash = "hunter2" }] },
            "CloudInit.WriteFiles[0].Path" => Full with { WriteFiles = [new CloudInitFile("/etc/../root/.ssh/authorized_keys", "x")] },
            _ => Full with { Ethernets = [new CloudInitEthernet("eth0", "52:54:00:aa:bb:cc,evil")] },
        };

        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(new VmSpec("vm1") { CloudInit = bad }));

        Assert.Contains(error.Problems, p => p.Field == field);
    }
}
