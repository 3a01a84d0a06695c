using Spectre.Console.Cli;
using Virt.Ctl.Commands;
using Virt.Ctl.Infrastructure;

// virtctl: the Virt SDK from the shell. Exit codes: see Infrastructure/ExitCodes.cs.
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("virtctl");
    config.PropagateExceptions();
    config.AddBranch("vm", vm =>
    {
        vm.SetDescription("Virtual machines (QEMU/KVM).");
        vm.AddCommand<VmListCommand>("list");
        vm.AddCommand<VmCreateCommand>("create").WithExample("vm", "create", "web", "--test-guest");
        vm.AddCommand<VmStartCommand>("start");
        vm.AddCommand<VmStopCommand>("stop");
        vm.AddCommand<VmPauseCommand>("pause");
        vm.AddCommand<VmResumeCommand>("resume");
        vm.AddCommand<VmConsoleCommand>("console");
        vm.AddCommand<VmSnapshotCommand>("snapshot");
        vm.AddCommand<VmMigrateCommand>("migrate").WithExample("vm", "migrate", "web", "--to", "https://host-b:8006", "--token-file", "/etc/virt/host-token");
        vm.AddCommand<VmDeleteCommand>("delete");
    });
    config.AddBranch("ct", ct =>
    {
        ct.SetDescription("Containers (LXC).");
        ct.AddCommand<ContainerListCommand>("list");
        ct.AddCommand<ContainerCreateCommand>("create");
        ct.AddCommand<ContainerStartCommand>("start");
        ct.AddCommand<ContainerExecCommand>("exec").WithExample("ct", "exec", "box", "--", "uname", "-a");
        ct.AddCommand<ContainerStopCommand>("stop");
        ct.AddCommand<ContainerDeleteCommand>("delete");
    });
    config.AddBranch("storage", storage =>
    {
        storage.SetDescription("Storage pools and volumes.");
        storage.AddCommand<StorageListCommand>("list");
        storage.AddCommand<StorageDefineCommand>("define");
        storage.AddCommand<StorageCreateCommand>("create");
        storage.AddCommand<StorageCloneCommand>("clone");
        storage.AddCommand<StorageSnapshotCommand>("snapshot");
    });
    config.AddBranch("net", net =>
    {
        net.SetDescription("Networks: bridges, NAT, DHCP, VXLAN, firewall.");
        net.AddCommand<NetListCommand>("list");
        net.AddCommand<NetShowCommand>("show");
        net.AddCommand<NetDefineCommand>("define").WithExample("net", "define", "lab.json");
        net.AddCommand<NetPlanCommand>("plan");
        net.AddCommand<NetApplyCommand>("apply");
        net.AddCommand<NetDeleteCommand>("delete");
        net.AddCommand<NetLeasesCommand>("leases");
        net.AddCommand<NetPortsCommand>("ports");
        net.AddCommand<NetCountersCommand>("counters");
        net.AddCommand<NetDriftCommand>("drift");
        net.AddCommand<NetInventoryCommand>("inventory");
    });
    config.AddBranch("secgroup", secgroup =>
    {
        secgroup.SetDescription("Firewall security groups for NICs.");
        secgroup.AddCommand<SecurityGroupListCommand>("list");
        secgroup.AddCommand<SecurityGroupDefineCommand>("define");
        secgroup.AddCommand<SecurityGroupDeleteCommand>("delete");
    });
    config.AddBranch("pci", pci =>
    {
        pci.SetDescription("PCI devices and VFIO passthrough.");
        pci.AddCommand<PciListCommand>("list");
        pci.AddCommand<PciPlanCommand>("plan");
        pci.AddCommand<PciBindCommand>("bind");
        pci.AddCommand<PciReleaseCommand>("release");
    });
    config.AddBranch("node", node =>
    {
        node.SetDescription("Cluster nodes (etcd: --etcd URLS).");
        node.AddCommand<NodeListCommand>("list");
        node.AddCommand<NodeMaintenanceCommand>("maintenance").WithExample("node", "maintenance", "pve2", "--etcd", "http://10.0.0.1:2379");
        node.AddCommand<NodeResumeCommand>("resume");
        node.AddCommand<NodeDrainCommand>("drain").WithExample("node", "drain", "pve2", "--etcd", "http://10.0.0.1:2379");
        node.AddCommand<NodeGuestsCommand>("guests");
    });
    config.AddBranch("host", host =>
    {
        host.SetDescription("This host.");
        host.AddCommand<HostCheckCommand>("check");
        host.AddBranch("tls", tls =>
        {
            tls.SetDescription("Certificates for TLS between hosts (migration and disk copy).");
            tls.AddCommand<HostTlsInitCommand>("init").WithExample("host", "tls", "init", "--ca", "/root/virt-ca");
            tls.AddCommand<HostTlsIssueCommand>("issue").WithExample("host", "tls", "issue", "--ca", "/root/virt-ca", "--host", "host-b", "--address", "192.0.2.2", "--out", "/etc/virt/tls");
        });
    });
});

try
{
    return await app.RunAsync(args);
}
catch (Exception exception) when (exception is CommandParseException or CommandRuntimeException)
{
    Output.Error(exception, ExitCodes.BadInput);
    return ExitCodes.BadInput;
}
