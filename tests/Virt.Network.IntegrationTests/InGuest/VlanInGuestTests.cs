using Virt.Kvm.IntegrationTests.Infrastructure;

namespace Virt.Network.IntegrationTests.InGuest;

/// <summary>
/// A VLAN network on a real VLAN kernel: this host has no bridge vlan_filtering and no 802.1Q, the test guest's Debian
/// kernel has both. The guest mounts this host's root read-only over 9p and runs tests/Virt.Network.Probe from this build
/// in a chroot, which drives the SDK there (namespaces for the "guests", veth ports tagged 10/10/20, a trunk uplink whose
/// far end carries an 802.1Q device, and a fourth port on VLAN 10 behind the SDK's real nftables firewall: the script loads
/// the guest's nf_tables, conntrack and br_netfilter modules first, libnftables comes from this host's root); its
/// verdicts come back on the serial console.
/// </summary>
public sealed class VlanInGuestTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(480);

    [Fact(Timeout = 540_000)]
    public async Task Ports_tagged_alike_reach_each_other_and_the_trunk_while_another_tag_is_isolated_on_a_vlan_filtering_bridge_and_a_tagged_ports_nftables_rules_hold()
    {
        TestGuest.Require();
        HostRootInGuest.Require();
        HostRequirement.Require(File.Exists("/usr/sbin/nft"), "nftables (apt-get install nftables: the guest uses the host root's nft and libnftables over 9p)");
        var ct = TestContext.Current.CancellationToken;
        var probe = Path.Combine(AppContext.BaseDirectory, "Virt.Network.Probe.dll");
        var script = Path.Combine(Path.GetTempPath(), $"virt-vlan-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(
            script,
            $"""
            set -e
            load-modules netfilter
            {HostRootInGuest.Mount}
            set +e
            {HostRootInGuest.Dotnet} {probe} vlan /run/virt-network
            """,
            ct);
        try
        {
            await using var qemu = await QemuProcess.StartAsync(
            [
                "-machine", "q35", "-accel", "tcg", "-smp", "2", "-m", "1024",
                "-bios", "/usr/share/qemu/qboot.rom",
                "-kernel", TestGuest.Kernel, "-initrd", TestGuest.Initramfs,
                "-append", "console=ttyS0 panic=-1 quiet no_timer_check",
                "-serial", "file:{dir}/serial.log", "-no-reboot",
                .. HostRootInGuest.QemuArguments,
                "-fw_cfg", $"name=opt/virt/script,file={script}",
            ]);
            var serial = await qemu.WaitForSerialAsync("VIRT-GUEST-SCRIPT-EXIT", Deadline);
            TestContext.Current.SendDiagnosticMessage(serial);

            string[] expected =
            [
                "vlan ok: bridge vn-vl made with vlan_filtering 1",
                "vlan ok: plan after apply is empty",
                "vlan ok: plan with the ports connected is empty",
                "vlan ok: port vh1 has only VLAN 10, pvid and untagged",
                "vlan ok: port vh2 has only VLAN 10, pvid and untagged",
                "vlan ok: port vh3 has only VLAN 20, pvid and untagged",
                "vlan ok: trunk vtrunk carries VLANs 10 and 20 tagged",
                "vlan ok: same tag reaches (g1 -> g2, VLAN 10)",
                "vlan ok: same tag reaches (g2 -> g1, VLAN 10)",
                "vlan ok: other tag isolated (g1 -> g3, VLAN 10 vs 20)",
                "vlan ok: other tag isolated (g3 -> g2, VLAN 20 vs 10)",
                "vlan ok: trunk carries VLAN 10 tagged",
                "vlan ok: trunk keeps VLAN 20 off VLAN 10",
                "vlan ok: plan with the firewalled port is empty (nftables fingerprint read back)",
                "vlan ok: firewall: table bridge virt has the chains of vh4",
                "vlan ok: firewall: the listeners in vg4 answer locally",
                "vlan ok: firewall: ICMP echo-request to the VLAN 10 port is dropped",
                "vlan ok: firewall: TCP 8080 is allowed and its replies come back",
                "vlan ok: firewall: TCP 8081 (a reject rule) is blocked on the bridge",
                "vlan ok: firewall: TCP 8082 falls to the default-in drop",
                "vlan ok: firewall: conntrack through br_netfilter lets the echo reply back in past the default-in drop",
                "vlan ok: firewall: the ICMP rule's counter moved",
                "vlan ok: firewall: the reject rule's counter moved",
                "vlan ok: firewall: the default-in counter moved",
                "vlan ok: anti-spoofing: g4 sending from 192.0.2.25 cannot reach g1",
                "vlan ok: anti-spoofing: the IPv4 or ARP check counted the spoofed packets",
                "vlan ok: anti-spoofing: g4 sending from MAC 02:00:00:00:00:aa cannot reach g1",
                "vlan ok: anti-spoofing: the MAC check counted the spoofed frames",
                "vlan ok: anti-spoofing: with its own MAC and address g4 reaches g1 again",
                "vlan note: bridge family on this kernel:",
                "vlan ok: firewall: release removes the chains of vh4",
                "vlan ok: release removes port vh3 and its VLANs",
                "vlan ok: release leaves vh1 on VLAN 10",
                "vlan ok: same tag still reaches after another port's release",
                "vlan ok: plan after release is empty",
                "vlan ok: delete removes vn-vl and leaves the uplink vtrunk",
                "vlan ok: delete leaves no virt table in nftables",
                "VLAN-VERDICT PASS",
                "VIRT-GUEST-SCRIPT-EXIT 0",
            ];

            // The whole console on failure: the probe's own lines say which check failed and what the kernel had.
            var missing = expected.Where(line => !serial.Contains(line, StringComparison.Ordinal)).ToList();
            Assert.True(missing.Count == 0, $"missing from the guest's output: {string.Join("; ", missing)}\n--- guest console ---\n{serial}");
        }
        finally
        {
            File.Delete(script);
        }
    }
}
