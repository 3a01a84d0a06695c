using Virt.Containers;
using Virt.Passthrough;
using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Abstractions.Tests.Errors;

/// <summary>Every SDK error carries the category hosts switch on (an HTTP status, an exit code), one family at a time.</summary>
public sealed class ErrorKindTests
{
    private static readonly PciAddress Device = PciAddress.Parse("0000:01:00.0");

    public static TheoryData<VirtException, VirtErrorKind> VmErrors() => new()
    {
        { new VmNotFoundException("web", "/var/lib/virt"), VirtErrorKind.NotFound },
        { new VmAlreadyExistsException("web"), VirtErrorKind.Conflict },
        { new VmStateException("web", "pause", VmState.Stopped, "start it first"), VirtErrorKind.Conflict },
        { new InvalidVmSpecException("web", [new VmSpecProblem("Memory", "too small")]), VirtErrorKind.InvalidInput },
        { new VmStartException("web", "QEMU exited", 1, "tail"), VirtErrorKind.Failed },
        { new VmSnapshotException("web", "take", "s1", "QEMU said no"), VirtErrorKind.Failed },
        { new VmMigrationException("web", "the target closed"), VirtErrorKind.Failed },
        { new VmHotplugException("web", "attach", "disk1", "QEMU said no"), VirtErrorKind.Failed },
        { new VmGuestAgentUnavailableException("web", "exec", "no agent"), VirtErrorKind.Unavailable },
    };

    public static TheoryData<VirtException, VirtErrorKind> ContainerErrors() => new()
    {
        { new ContainerNotFoundException("ct", "/var/lib/virt"), VirtErrorKind.NotFound },
        { new ContainerAlreadyExistsException("ct"), VirtErrorKind.Conflict },
        { new ContainerStateException("ct", "exec in", ContainerState.Stopped, "start it first"), VirtErrorKind.Conflict },
        { new InvalidContainerSpecException("ct", [new ContainerSpecProblem("Name", "empty")]), VirtErrorKind.InvalidInput },
        { new ContainerRootfsException("ct", "/img.tar", "cannot unpack"), VirtErrorKind.Failed },
        { new ContainerStartException("ct", ContainerStartFailure.Unknown, "lxc-start failed", "/log", "tail"), VirtErrorKind.Failed },
        { new ContainerPreflightException("ct", ["no bridge"]), VirtErrorKind.Refused },
        { new ContainerLimitException("ct", ["memory.max ignored"]), VirtErrorKind.Refused },
        { new ContainerAttachException("ct", "lxc-attach failed"), VirtErrorKind.Failed },
        { new ContainerPathException("ct", "/etc/x", "cannot open it"), VirtErrorKind.Failed },
        { new ContainerPathException(VirtErrorKind.InvalidInput, "ct", "../x", "'..' is refused"), VirtErrorKind.InvalidInput },
    };

    public static TheoryData<VirtException, VirtErrorKind> StorageAndPassthroughErrors() => new()
    {
        { new StoragePoolNotFoundException("local"), VirtErrorKind.NotFound },
        { new VolumeNotFoundException(new VolumeId("local", "disk0")), VirtErrorKind.NotFound },
        { new VolumeStateException(new VolumeId("local", "disk0"), "in use by 'web'"), VirtErrorKind.Conflict },
        { new StorageException("qemu-img failed"), VirtErrorKind.Failed },
        { new StorageException(VirtErrorKind.InvalidInput, "give an absolute path"), VirtErrorKind.InvalidInput },
        { new PciDeviceNotFoundException(Device), VirtErrorKind.NotFound },
        { new IommuUnavailableException(Device), VirtErrorKind.Refused },
        { new VfioUnavailableException(Device, "vfio-pci"), VirtErrorKind.Refused },
        { new PassthroughBlockedException(new PassthroughPlan("web", "vfio-pci", [], [], [], [])), VirtErrorKind.Refused },
        { new PassthroughWriteException("write failed", Device, "/sys/bus/pci/drivers/vfio-pci/bind", "EBUSY", hostRestored: true, innerException: null), VirtErrorKind.Failed },
        { new PassthroughDeviceBusyException("web", "/dev/vfio/12", ["qemu (pid 42)"]), VirtErrorKind.Conflict },
        { new ProcessFailedException("qemu-img info x", 1, "no such file"), VirtErrorKind.Failed },
    };

    [Theory]
    [MemberData(nameof(VmErrors), DisableDiscoveryEnumeration = true)]
    public void Every_VM_error_is_a_VmException_with_its_category(VirtException error, VirtErrorKind kind)
    {
        Assert.IsAssignableFrom<VmException>(error);
        Assert.Equal(kind, error.ErrorKind);
        Assert.Equal(kind, VirtErrors.KindOf(error));
    }

    [Theory]
    [MemberData(nameof(ContainerErrors), DisableDiscoveryEnumeration = true)]
    public void Every_container_error_is_a_ContainerException_with_its_category(VirtException error, VirtErrorKind kind)
    {
        Assert.IsAssignableFrom<ContainerException>(error);
        Assert.Equal(kind, error.ErrorKind);
        Assert.Equal(kind, VirtErrors.KindOf(error));
    }

    [Theory]
    [MemberData(nameof(StorageAndPassthroughErrors), DisableDiscoveryEnumeration = true)]
    public void Storage_passthrough_and_process_errors_carry_their_category(VirtException error, VirtErrorKind kind)
    {
        Assert.Equal(kind, error.ErrorKind);
        Assert.Equal(kind, VirtErrors.KindOf(error));
    }

    [Fact]
    public void Timeouts_bad_arguments_and_foreign_errors_are_classified_without_being_VirtExceptions()
    {
        Assert.Equal(VirtErrorKind.Timeout, VirtErrors.KindOf(new VmLockTimeoutException("web", "stop", "start", TimeSpan.FromSeconds(30))));
        Assert.Equal(VirtErrorKind.Timeout, VirtErrors.KindOf(new ContainerExecTimeoutException("ct", "sleep 100", TimeSpan.FromSeconds(1))));
        Assert.Equal(VirtErrorKind.InvalidInput, VirtErrors.KindOf(new ArgumentException("bad name", "name")));
        Assert.Equal(VirtErrorKind.InvalidInput, VirtErrors.KindOf(new FormatException("not a PCI address")));
        Assert.Null(VirtErrors.KindOf(new NullReferenceException()));
        Assert.Null(VirtErrors.KindOf(null));
    }

    [Fact]
    public void A_VirtException_without_a_kind_is_a_failure()
    {
        Assert.Equal(VirtErrorKind.Failed, new VirtException("the host said no").ErrorKind);
        Assert.Equal(VirtErrorKind.Refused, new VirtException(VirtErrorKind.Refused, "no IOMMU").ErrorKind);
    }
}
