using System.Security.Cryptography;
using System.Text;
using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Security;

/// <summary>
/// The attack of issue 15, item 3, for real: a guest owns every byte of its raw disk, header included,
/// so it writes a qcow2 header there whose backing file is a host file (made with qemu-img itself and
/// copied over the start of the volume, as a guest's <c>dd</c> would). If anything probed the format,
/// the volume would be listed as qcow2 with that backing file, and a clone, an export or the next VM
/// start would read the host file into the disk. Each test then checks that the volume is still raw
/// everywhere, that clones and exports hold the guest's raw bytes, that the host file's content appears
/// in none of them and that the host file is unchanged.
/// </summary>
public abstract class GuestWrittenHeaderTests : IDisposable
{
    protected const long MiB = 1024 * 1024;
    private readonly PoolFixture _fixture;
    private readonly string _secret;
    private readonly string _marker = "HOST-SECRET-" + Guid.NewGuid().ToString("N");

    protected GuestWrittenHeaderTests(string kind, CephCluster? ceph = null)
    {
        _fixture = PoolFixture.Create(kind, ceph);

        // The host file the guest wants: root-only, unique content, outside the pool.
        _secret = Path.Combine("/tmp", "vs-secret-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(_secret, string.Concat(Enumerable.Repeat(_marker + "\n", 4096)));
        File.SetUnixFileMode(_secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    protected IStoragePool Pool => _fixture.Pool;

    protected string Scratch => _fixture.Scratch;

    protected Virt.Storage.Pools.StorageManager Manager => _fixture.Manager;

    [Fact(Timeout = 180_000)]
    public async Task A_raw_volume_whose_guest_wrote_a_qcow2_header_naming_a_host_file_stays_raw_everywhere()
    {
        var ct = TestContext.Current.CancellationToken;
        var secretHash = Hash(_secret);
        var volume = await Pool.CreateVolumeAsync(new VolumeSpec("victim", 16 * MiB) { Format = VolumeFormat.Raw }, ct);
        var header = WriteHostileHeader(volume, _secret);

        // Listed and described as what the pool made: raw, 16 MiB, no backing file.
        foreach (var seen in (await Pool.ListVolumesAsync(ct)).Append(await Pool.GetVolumeAsync("victim", ct)))
        {
            Assert.Equal(VolumeFormat.Raw, seen.Format);
            Assert.Empty(seen.BackingChain);
            Assert.Equal(16 * MiB, seen.CapacityBytes);
        }

        // A full clone is a copy of the raw bytes, header and all.
        await Pool.CloneVolumeAsync("victim", "copy", linked: false, ct).LastAsync(ct);
        var clone = await Pool.GetVolumeAsync("copy", ct);
        Assert.Equal(VolumeFormat.Raw, clone.Format);
        AssertHoldsGuestBytes(ReadAsRaw(clone), header);

        // A linked clone (where the pool has them) reads its base as raw.
        if (Pool.Capabilities.HasFlag(StorageCapabilities.LinkedClones))
        {
            await Pool.CloneVolumeAsync("victim", "linked", linked: true, ct).LastAsync(ct);
            var linked = await Pool.GetVolumeAsync("linked", ct);
            Assert.Equal([volume.Id], linked.BackingChain);
            AssertHoldsGuestBytes(ReadAsRaw(linked), header);
            var flat = await Pool.FlattenVolumeAsync("linked", ct);
            AssertHoldsGuestBytes(ReadAsRaw(flat), header);
        }

        // Exports, raw and qcow2, are the guest's bytes too.
        foreach (var format in new[] { VolumeFormat.Raw, VolumeFormat.Qcow2 })
        {
            var exported = Path.Combine(Scratch, "exported-" + format);
            await foreach (var _ in Pool.ExportAsync("victim", exported, format, ct))
            {
            }

            var bytes = format == VolumeFormat.Raw ? await File.ReadAllBytesAsync(exported, ct) : ConvertToRaw(exported, "qcow2");
            AssertHoldsGuestBytes(bytes, header);
        }

        // The next VM start: the resolver gives QEMU the recorded format (the KVM backend turns it into -blockdev driver=raw).
        var attachment = await Manager.AcquireAsync(volume.Id, "vm:attacked", ct);
        Assert.Equal(VolumeFormat.Raw, attachment.Format);
        await Manager.ReleaseAsync(volume.Id, "vm:attacked", ct);

        AssertSecretNowhere();
        Assert.Equal(secretHash, Hash(_secret));
    }

    [Fact(Timeout = 180_000)]
    public async Task Importing_an_image_whose_header_names_another_file_is_refused_and_leaves_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var secretHash = Hash(_secret);

        // A qcow2 whose backing file is the host file.
        var backed = Path.Combine(Scratch, "backed.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-b", _secret, "-F", "raw", backed, "16M");

        // A backing name in QEMU's json: syntax.
        var json = Path.Combine(Scratch, "json.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", $"json:{{\"driver\":\"raw\",\"file\":{{\"driver\":\"file\",\"filename\":\"{_secret}\"}}}}", "-F", "raw", json, "16M");

        // A qcow2 whose external data file is the host file.
        var dataFile = Path.Combine(Scratch, "data-file.qcow2");
        var data = Path.Combine(Scratch, "data.raw");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-o", $"data_file={data}", dataFile, "16M");
        Host.Run("qemu-img", "amend", "-q", "-f", "qcow2", "-o", $"data_file={_secret}", dataFile);

        // A vmdk descriptor whose extent is the host file.
        var vmdk = Path.Combine(Scratch, "flat.vmdk");
        await File.WriteAllTextAsync(vmdk, $"# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\nRW 32 FLAT \"{_secret}\" 0\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n", ct);

        var raw = Pool.Definition.Driver == "dir" ? (VolumeFormat?)null : VolumeFormat.Raw;
        foreach (var hostile in new[] { backed, json, dataFile, vmdk })
        {
            var name = "imported-" + Path.GetFileNameWithoutExtension(hostile);
            var error = await Assert.ThrowsAsync<StorageException>(async () =>
            {
                await foreach (var _ in Pool.ImportAsync(hostile, new VolumeSpec(name, 0) { Format = raw }, ct))
                {
                }
            });
            Assert.Contains(hostile, error.Message, StringComparison.Ordinal);
        }

        Assert.Empty(await Pool.ListVolumesAsync(ct));
        AssertSecretNowhere();
        Assert.Equal(secretHash, Hash(_secret));

        // A plain qcow2 still imports.
        var plain = Path.Combine(Scratch, "plain.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", plain, "16M");
        Host.Run("qemu-io", "-f", "qcow2", "-c", "write -P 77 0 1M", plain);
        await foreach (var _ in Pool.ImportAsync(plain, new VolumeSpec("plain", 0) { Format = raw }, ct))
        {
        }

        Assert.True(Host.HasPattern(await Pool.GetVolumeAsync("plain", ct), 77, "0", "1M"));
    }

    public void Dispose()
    {
        File.Delete(_secret);
        _fixture.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>What a guest does: builds a qcow2 header naming <paramref name="target"/> as its backing file and writes it over the start of its raw disk.</summary>
    protected byte[] WriteHostileHeader(VolumeInfo volume, string target, string backingFormat = "raw")
    {
        var header = Path.Combine(Scratch, "hostile-" + Guid.NewGuid().ToString("N")[..8] + ".qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", target, "-F", backingFormat, header, "16M");
        var bytes = File.ReadAllBytes(header);
        Host.Run("qemu-io", "-f", "raw", "-c", $"write -s {header} 0 {bytes.Length}", volume.Path);

        // Without -f, qemu-img is fooled: the attack is real on this host.
        Assert.Contains(target, Host.Run("qemu-img", "info", "-U", "--output", "json", volume.Path), StringComparison.Ordinal);
        return bytes;
    }

    /// <summary>A volume's bytes, read as its format says (through qemu-img for qcow2 and RBD).</summary>
    protected byte[] ReadAsRaw(VolumeInfo volume) =>
        volume.Format == VolumeFormat.Raw && !volume.Path.StartsWith("rbd:", StringComparison.Ordinal)
            ? File.ReadAllBytes(volume.Path)
            : ConvertToRaw(volume.Path, volume.Format == VolumeFormat.Raw ? "raw" : "qcow2");

    protected byte[] ConvertToRaw(string image, string format)
    {
        var output = Path.Combine(Scratch, "read-" + Guid.NewGuid().ToString("N")[..8] + ".raw");
        Host.Run("qemu-img", "convert", "-f", format, "-O", "raw", image, output);
        var bytes = File.ReadAllBytes(output);
        File.Delete(output);
        return bytes;
    }

    protected void AssertHoldsGuestBytes(byte[] disk, byte[] header)
    {
        Assert.Equal(16 * MiB, disk.Length);
        Assert.True(disk.AsSpan(0, header.Length).SequenceEqual(header), "the copy does not start with the bytes the guest wrote");
        Assert.True(disk.AsSpan(header.Length).IndexOfAnyExcept((byte)0) < 0, "the copy holds data the guest never wrote");
        Assert.True(disk.AsSpan().IndexOf(Encoding.ASCII.GetBytes(_marker)) < 0, "the host file's content is in the copy");
    }

    /// <summary>No file under the test's directories (pool, state, exports) holds the host file's content.</summary>
    protected void AssertSecretNowhere()
    {
        var marker = Encoding.ASCII.GetBytes(_marker);
        var roots = new[] { Scratch, Pool.Definition.Path }.Distinct();
        foreach (var file in roots.Where(Directory.Exists).SelectMany(root => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)).Distinct())
        {
            Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(marker) < 0, $"{file} holds the host file's content");
        }
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}

/// <summary>The attack on a dir pool (ext4: clones are copies), plus headers the pool itself must refuse.</summary>
public sealed class DirGuestWrittenHeaderTests() : GuestWrittenHeaderTests("dir")
{
    [Fact(Timeout = 120_000)]
    public async Task A_qcow2_volume_whose_header_names_a_file_outside_the_pool_is_refused_before_anything_opens_it()
    {
        // Volumes made before formats were recorded: a linked clone whose base was probed as qcow2, or an
        // overlay naming a host path. Nothing may open them, and they can still be deleted.
        var ct = TestContext.Current.CancellationToken;
        var victim = await Pool.CreateVolumeAsync(new VolumeSpec("victim", 16 * MiB) { Format = VolumeFormat.Raw }, ct);
        var images = Path.GetDirectoryName(victim.Path)!;
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "victim.raw", "-F", "qcow2", Path.Combine(images, "misread.qcow2"), "16M");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/hostname", "-F", "raw", Path.Combine(images, "outside.qcow2"), "16M");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "../../victim.raw", "-F", "raw", Path.Combine(images, "climbing.qcow2"), "16M");

        foreach (var name in new[] { "misread", "outside", "climbing" })
        {
            var error = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.GetVolumeAsync(name, ct));
            Assert.Contains("will not be opened", error.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<VolumeStateException>(() => Pool.CloneVolumeAsync(name, name + "-copy", linked: false, ct).LastAsync(ct).AsTask());
            await Assert.ThrowsAsync<VolumeStateException>(() => Manager.AcquireAsync(new VolumeId("test", name), "vm:x", ct));
            await Assert.ThrowsAsync<VolumeStateException>(async () =>
            {
                await foreach (var _ in Pool.ExportAsync(name, Path.Combine(Scratch, name + ".out"), VolumeFormat.Raw, ct))
                {
                }
            });
            await Pool.DeleteVolumeAsync(name, ct);
        }

        Assert.Equal(["victim"], (await Pool.ListVolumesAsync(ct)).Select(volume => volume.Id.Name));
        Assert.DoesNotContain(Directory.GetFiles(Scratch), file => file.EndsWith(".out", StringComparison.Ordinal));
    }
}

/// <summary>The attack on a dir pool on xfs with reflink: the full clone is a reflink of the raw file.</summary>
public sealed class XfsGuestWrittenHeaderTests() : GuestWrittenHeaderTests("xfs");

/// <summary>The attack on a btrfs pool: every volume is raw, clones are subvolume snapshots, exports read it as raw.</summary>
public sealed class BtrfsGuestWrittenHeaderTests() : GuestWrittenHeaderTests("btrfs");

/// <summary>The attack on a Ceph RBD pool: the guest's header written into the RBD image itself.</summary>
public sealed class RbdGuestWrittenHeaderTests(CephCluster ceph) : GuestWrittenHeaderTests("rbd", ceph);
