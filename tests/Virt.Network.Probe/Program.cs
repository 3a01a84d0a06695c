using Virt.Network.Probe;

var command = args.Length > 0 ? args[0] : string.Empty;
return command switch
{
    "vlan" => await GuestVlanCheck.RunAsync(args.Length > 1 ? args[1] : "/run/virt-network"),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Virt.Network.Probe vlan [STATE_DIR]");
    return 2;
}
