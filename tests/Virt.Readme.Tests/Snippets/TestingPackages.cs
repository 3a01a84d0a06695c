using Virt.Containers;
using Virt.Kvm.Qmp;
using Virt.Kvm.Testing;
using Virt.Testing;
using Virt.VirtualMachines;

namespace Virt.Readme.Tests.Snippets;

/// <summary>The test-double packages' READMEs. Compiled, never run here (the contract tests run the doubles).</summary>
internal static class TestingPackages
{
    public static async Task InMemoryAsync()
    {
        #region src/Virt.Testing/README.md
        var manager = new InMemoryVirtualMachineManager();
        var vm = await manager.CreateAsync(new VmSpec("web"));
        await vm.StartAsync();
        await Assert.ThrowsAsync<VmStateException>(() => vm.StartAsync());   // ErrorKind == Conflict, as with QEMU
        #endregion
    }

    public static async Task InMemoryContainersAsync()
    {
        #region src/Virt.Testing/README.md containers
        var containers = new InMemoryContainerManager();
        var web = (InMemoryContainer)await containers.CreateAsync(new ContainerSpec("web", ContainerRootfs.Busybox()));
        web.ExecHandler = (request, _) => Task.FromResult(request.Command[0] == "nginx"
            ? new InMemoryExecResponse(1, StandardError: "nginx: [emerg] bind() failed\n")   // the answer under test
            : null);                                                                         // built-in commands for the rest
        await web.StartAsync();
        var result = await web.ExecAsync(new ContainerExecRequest(["nginx", "-t"]));       // ExitCode 1, as scripted
        web.Crash();                                                                        // init dies: watchers see Stopping, Stopped
        #endregion
    }

    public static async Task FakeQmpAsync()
    {
        #region src/Virt.Kvm.Testing/README.md
        await using var qmp = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "stop") return false;        // defaults for the rest
            await connection.ErrorAsync(command, "GenericError", "injected");      // the fault under test
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(qmp.SocketPath);
        #endregion
    }
}
