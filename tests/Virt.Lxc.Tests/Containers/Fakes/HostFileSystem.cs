using System.IO.Abstractions.TestingHelpers;
using Virt.Tests;

namespace Virt.Lxc.Tests.Containers.Fakes;

/// <summary>
/// An in-memory host for the LXC backend: the shared mode-keeping file system with a cgroup2 mount in
/// <c>/proc/self/mountinfo</c> and its controllers.
/// </summary>
internal sealed class HostFileSystem : ModeKeepingFileSystem
{
    public const string CgroupRoot = "/sys/fs/cgroup";

    public HostFileSystem()
    {
        AddFile("/proc/self/mountinfo", new MockFileData($"35 24 0:30 / {CgroupRoot} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"));
        AddFile(CgroupRoot + "/cgroup.controllers", new MockFileData("cpuset cpu io memory pids\n"));
    }
}
