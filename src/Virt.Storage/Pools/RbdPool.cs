using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Virt.Processes;
using Virt.Storage.Tools;

namespace Virt.Storage.Pools;

/// <summary>
/// A Ceph RBD pool, driven through Ceph's own <c>rbd</c> tool with <c>--format json</c>. The tool rather
/// than librbd in-process: librados starts dozens of threads and keeps connections per client, and a
/// client that dies holding an exclusive lock gets blocklisted for an hour (CEPH-RECIPE) — a short-lived
/// process per operation keeps all of that out of the host application, at ~60 ms per call. Snapshots
/// and rollback are RBD's; a linked clone is an RBD clone (v2) of a snapshot the SDK takes on the base
/// (<c>virt-base-TARGET</c>); a full clone is <c>rbd cp</c>. Images are built under temporary names and
/// renamed into place, as in the other drivers.
/// </summary>
internal sealed class RbdPool(RbdPoolDefinition definition, StorageContext context) : StoragePoolBase(definition, context), IIncrementalStoragePool
{
    private const string BaseSnapshotPrefix = "virt-base-";

    public override StorageCapabilities Capabilities => StorageCapabilities.Snapshots | StorageCapabilities.LinkedClones | StorageCapabilities.Shared;

    private string CephPool => definition.RbdPool;

    private string User => definition.CephUser;

    private string Config => definition.CephConfig;

    /// <summary>QEMU's legacy filename for an image (qemu-img and the attachment).</summary>
    public string QemuName(string image) => $"rbd:{CephPool}/{image}:conf={Config}:id={User}";

    public override async Task<VolumeInfo> CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = CheckName(spec.Name);
        CheckSize(spec.SizeBytes, IdOf(name));
        RequireRaw(spec.Format, name, "rbd");
        using var held = await LockAsync(name, "create", cancellationToken).ConfigureAwait(false);
        await RefuseIfExistsAsync(name, cancellationToken).ConfigureAwait(false);
        await BuildAsync(name, temporary => RbdAsync(["create", "--size", Bytes(spec.SizeBytes), Image(temporary)], cancellationToken), cancellationToken).ConfigureAwait(false);
        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<VolumeInfo> GetVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        var info = await InfoAsync(name, cancellationToken).ConfigureAwait(false) ?? throw new VolumeNotFoundException(IdOf(name));
        return await DescribeAsync(name, info, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(CancellationToken cancellationToken = default)
    {
        using var list = JsonDocument.Parse(await RbdAsync(["ls", "--format", "json", CephPool], cancellationToken).ConfigureAwait(false));
        var volumes = new List<VolumeInfo>();
        foreach (var image in list.RootElement.EnumerateArray().Select(item => item.GetString() ?? string.Empty).Order(StringComparer.Ordinal))
        {
            if (IsTemporary(image))
            {
                if (IsAbandoned(image))
                {
                    await RemoveImageAsync(image, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (VolumeId.IsValidName(image) && await InfoAsync(image, cancellationToken).ConfigureAwait(false) is { } info)
            {
                volumes.Add(await DescribeAsync(image, info, cancellationToken).ConfigureAwait(false));
            }
        }

        return volumes;
    }

    public override async Task<VolumeInfo> ResizeVolumeAsync(string name, long newSizeBytes, bool allowShrink = false, CancellationToken cancellationToken = default)
    {
        CheckSize(newSizeBytes, IdOf(CheckName(name)));
        using var held = await LockAsync(name, "resize", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseShrinkWithoutConsent(volume, newSizeBytes, allowShrink);

        await RbdAsync(newSizeBytes < volume.CapacityBytes ? ["resize", "--no-progress", "--allow-shrink", "--size", Bytes(newSizeBytes), Image(name)] : ["resize", "--no-progress", "--size", Bytes(newSizeBytes), Image(name)], cancellationToken).ConfigureAwait(false);
        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async IAsyncEnumerable<StorageProgress> CloneVolumeAsync(string source, string target, bool linked, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckName(source);
        CheckName(target);
        using var sourceLock = await LockAsync(source, "clone", cancellationToken).ConfigureAwait(false);
        using var targetLock = await LockAsync(target, "create", cancellationToken).ConfigureAwait(false);
        await GetVolumeAsync(source, cancellationToken).ConfigureAwait(false);
        await RefuseIfExistsAsync(target, cancellationToken).ConfigureAwait(false);
        if (linked)
        {
            var snapshot = BaseSnapshotPrefix + target;
            await RbdAsync(["snap", "create", "--no-progress", $"{Image(source)}@{snapshot}"], cancellationToken).ConfigureAwait(false);
            try
            {
                await BuildAsync(target, temporary => RbdAsync(["clone", $"{Image(source)}@{snapshot}", Image(temporary)], cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await RbdAsync(["snap", "rm", "--no-progress", $"{Image(source)}@{snapshot}"], CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }
        else
        {
            await BuildAsync(target, temporary => RbdAsync(["cp", "--no-progress", Image(source), Image(temporary)], cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        yield return new StorageProgress("clone", 100, true);
    }

    public override async Task<VolumeInfo> FlattenVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "flatten", cancellationToken).ConfigureAwait(false);
        using var info = await InfoAsync(name, cancellationToken).ConfigureAwait(false) ?? throw new VolumeNotFoundException(IdOf(name));
        if (!info.RootElement.TryGetProperty("parent", out var parent))
        {
            return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        }

        var baseImage = parent.GetProperty("image").GetString();
        var baseSnapshot = parent.GetProperty("snapshot").GetString();
        await RbdAsync(["flatten", "--no-progress", Image(name)], cancellationToken).ConfigureAwait(false);

        // The snapshot the SDK took on the base for this clone is no longer needed.
        if (baseSnapshot is not null && baseSnapshot.StartsWith(BaseSnapshotPrefix, StringComparison.Ordinal))
        {
            await RbdAsync(["snap", "rm", "--no-progress", $"{CephPool}/{baseImage}@{baseSnapshot}"], cancellationToken).ConfigureAwait(false);
        }

        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        CheckSnapshotName(snapshot);
        using var held = await LockAsync(CheckName(name), "snapshot", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        if (volume.Snapshots.Contains(snapshot))
        {
            throw new VolumeStateException(volume.Id, $"snapshot '{snapshot}' already exists: choose another name");
        }

        await RbdAsync(["snap", "create", "--no-progress", $"{Image(name)}@{snapshot}"], cancellationToken).ConfigureAwait(false);
    }

    public override async Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        CheckSnapshotName(snapshot);
        using var held = await LockAsync(CheckName(name), "roll back", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "roll back");
        RequireSnapshot(volume, snapshot);
        await RbdAsync(["snap", "rollback", "--no-progress", $"{Image(name)}@{snapshot}"], cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        CheckSnapshotName(snapshot);
        using var held = await LockAsync(CheckName(name), "delete a snapshot", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RequireSnapshot(volume, snapshot);
        await RbdAsync(["snap", "rm", "--no-progress", $"{Image(name)}@{snapshot}"], cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "delete", cancellationToken).ConfigureAwait(false);
        using var info = await InfoAsync(name, cancellationToken).ConfigureAwait(false) ?? throw new VolumeNotFoundException(IdOf(name));
        RefuseIfInUse(name, "delete");
        var clones = (await ListVolumesAsync(cancellationToken).ConfigureAwait(false)).Where(other => other.BackingChain.Contains(IdOf(name))).Select(other => other.Id.ToString()).ToList();
        if (clones.Count > 0)
        {
            throw new VolumeStateException(IdOf(name), $"it is the base of linked clones {string.Join(", ", clones)}: delete them (or flatten them) first");
        }

        await RemoveImageAsync(name, cancellationToken).ConfigureAwait(false);
        ForgetInUse(name);

        // A linked clone took a snapshot of its base; it goes with the clone.
        if (info.RootElement.TryGetProperty("parent", out var parent) && parent.GetProperty("snapshot").GetString() is { } baseSnapshot && baseSnapshot.StartsWith(BaseSnapshotPrefix, StringComparison.Ordinal))
        {
            await RbdAsync(["snap", "rm", "--no-progress", $"{CephPool}/{parent.GetProperty("image").GetString()}@{baseSnapshot}"], cancellationToken).ConfigureAwait(false);
        }

    }

    public override async Task<bool> SupportsAsync(string name, VolumeFeature feature, CancellationToken cancellationToken = default)
    {
        await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public override async IAsyncEnumerable<StorageProgress> ImportAsync(string sourcePath, VolumeSpec spec, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = CheckName(spec.Name);
        RequireRaw(spec.Format, name, "rbd");
        RequireImportSource(sourcePath, name);

        using var held = await LockAsync(name, "import", cancellationToken).ConfigureAwait(false);
        await RefuseIfExistsAsync(name, cancellationToken).ConfigureAwait(false);
        var sourceFormat = await ProbeImportSourceAsync(sourcePath, name, cancellationToken).ConfigureAwait(false);
        var temporary = Path.GetFileName(TemporaryPath("/", name));
        var done = false;
        try
        {
            // qemu-img writes straight into a new RBD image through librbd (Debian's qemu-block-extra).
            await foreach (var percent in Context.QemuImg.ConvertForeignAsync(sourcePath, sourceFormat, QemuName(temporary), VolumeFormat.Raw, cancellationToken).ConfigureAwait(false))
            {
                yield return new StorageProgress("import", percent, false);
            }

            using var imported = await InfoAsync(temporary, cancellationToken).ConfigureAwait(false);
            if (imported is not null && spec.SizeBytes > imported.RootElement.GetProperty("size").GetInt64())
            {
                await RbdAsync(["resize", "--no-progress", "--size", Bytes(spec.SizeBytes), Image(temporary)], cancellationToken).ConfigureAwait(false);
            }

            await RbdAsync(["rename", Image(temporary), Image(name)], cancellationToken).ConfigureAwait(false);
            done = true;
        }
        finally
        {
            if (!done)
            {
                await RemoveImageAsync(temporary, CancellationToken.None).ConfigureAwait(false);
            }
        }

        yield return new StorageProgress("import", 100, true);
    }

    protected override string ExportSource(VolumeInfo volume) => QemuName(volume.Id.Name);

    public async Task ExportDiffAsync(string name, string? fromSnapshot, string snapshot, string targetPath, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "export a diff", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RequireSnapshot(volume, snapshot);
        if (fromSnapshot is not null)
        {
            RequireSnapshot(volume, fromSnapshot);
        }

        if (string.IsNullOrEmpty(targetPath) || !targetPath.StartsWith('/') || Files.File.Exists(targetPath))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"cannot export a diff of '{volume.Id}' to '{targetPath}': give an absolute path that does not exist yet");
        }

        // rbd creates the file itself (0644): it does so inside a 0700 directory, where nobody else can
        // open it, and the file is made 0600 before it leaves that directory.
        var directory = CreatePrivateDirectory(Path.Combine(Path.GetDirectoryName(targetPath)!, $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}-{Path.GetFileName(targetPath)}"));
        var temporary = Path.Combine(directory, "diff");
        try
        {
            await RbdAsync(fromSnapshot is null
                ? ["export-diff", "--no-progress", $"{Image(name)}@{snapshot}", temporary]
                : ["export-diff", "--no-progress", "--from-snap", fromSnapshot, $"{Image(name)}@{snapshot}", temporary], cancellationToken).ConfigureAwait(false);
            Files.File.SetUnixFileMode(temporary, Virt.IO.OwnerOnly.FileMode);
            Files.File.Move(temporary, targetPath);
        }
        finally
        {
            Files.Directory.Delete(directory, recursive: true);
        }
    }

    public async Task ImportDiffAsync(string name, string sourcePath, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "import a diff", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "import a diff into");
        if (!Files.File.Exists(sourcePath))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"cannot apply '{sourcePath}' to '{volume.Id}': the file does not exist");
        }

        await RbdAsync(["import-diff", "--no-progress", sourcePath, Image(name)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cluster's raw capacity and free space (<c>ceph df</c>), against what this pool's images promise.</summary>
    public override async Task<StoragePoolStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var result = await Context.Processes.RunAsync(new ProcessSpec(Context.Options.CephPath, ["-c", Config, "--id", User, "df", "--format", "json"]) { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw Failure(result);
        }

        using var df = JsonDocument.Parse(result.StandardOutput);
        var stats = df.RootElement.GetProperty("stats");
        var volumes = await ListVolumesAsync(cancellationToken).ConfigureAwait(false);
        return new StoragePoolStatus(stats.GetProperty("total_bytes").GetInt64(), stats.GetProperty("total_avail_bytes").GetInt64(), volumes.Sum(volume => volume.AllocationBytes), volumes.Sum(volume => volume.CapacityBytes));
    }

    private async Task BuildAsync(string name, Func<string, Task> build, CancellationToken cancellationToken)
    {
        var temporary = Path.GetFileName(TemporaryPath("/", name));
        try
        {
            await build(temporary).ConfigureAwait(false);
            await RbdAsync(["rename", Image(temporary), Image(name)], cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await RemoveImageAsync(temporary, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<VolumeInfo> DescribeAsync(string name, JsonDocument info, CancellationToken cancellationToken)
    {
        using (info)
        {
            var root = info.RootElement;
            var chain = new List<VolumeId>();
            if (root.TryGetProperty("parent", out var parent) && parent.GetProperty("pool").GetString() == CephPool)
            {
                chain.Add(IdOf(parent.GetProperty("image").GetString() ?? string.Empty));
            }

            using var snapshots = JsonDocument.Parse(await RbdAsync(["snap", "ls", "--format", "json", Image(name)], cancellationToken).ConfigureAwait(false));
            var names = snapshots.RootElement.EnumerateArray().Select(snapshot => snapshot.GetProperty("name").GetString() ?? string.Empty).Where(snapshot => !snapshot.StartsWith(BaseSnapshotPrefix, StringComparison.Ordinal)).ToList();
            using var usage = JsonDocument.Parse(await RbdAsync(["du", "--format", "json", Image(name)], cancellationToken).ConfigureAwait(false));
            var used = usage.RootElement.GetProperty("images").EnumerateArray().Where(image => !image.TryGetProperty("snapshot", out _)).Sum(image => image.GetProperty("used_size").GetInt64());
            return new VolumeInfo(IdOf(name), VolumeFormat.Raw, root.GetProperty("size").GetInt64(), used, QemuName(name), chain, names);
        }
    }

    private async Task<JsonDocument?> InfoAsync(string image, CancellationToken cancellationToken)
    {
        var result = await RunAsync(["info", "--format", "json", Image(image)], cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            return result.StandardError.Contains("No such file", StringComparison.Ordinal) ? null : throw Failure(result);
        }

        return JsonDocument.Parse(result.StandardOutput);
    }

    private async Task RefuseIfExistsAsync(string name, CancellationToken cancellationToken)
    {
        using var existing = await InfoAsync(name, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            throw new VolumeStateException(IdOf(name), "it already exists: choose another name, or delete it first");
        }
    }

    private async Task RemoveImageAsync(string image, CancellationToken cancellationToken)
    {
        var purge = await RunAsync(["snap", "purge", "--no-progress", Image(image)], cancellationToken).ConfigureAwait(false);
        var remove = await RunAsync(["rm", "--no-progress", Image(image)], cancellationToken).ConfigureAwait(false);
        if (remove.ExitCode != 0 && !remove.StandardError.Contains("No such file", StringComparison.Ordinal))
        {
            throw Failure(purge.ExitCode != 0 ? purge : remove);
        }
    }

    private async Task<string> RbdAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await RunAsync(arguments, cancellationToken).ConfigureAwait(false);
        return result.ExitCode == 0 ? result.StandardOutput : throw Failure(result);
    }

    private Task<ProcessResult> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        Context.Processes.RunAsync(new ProcessSpec(Context.Options.RbdPath, ["-c", Config, "--id", User, .. arguments]) { Timeout = TimeSpan.FromMinutes(5) }, cancellationToken);

    private StorageException Failure(ProcessResult result)
    {
        var error = result.StandardError.Trim();
        return new($"{Subject(result.Spec.Arguments)}: '{result.Spec.CommandLine}' failed (exit {result.ExitCode}): {error}; {Fix(error)}");
    }

    /// <summary>What a failed command was for: the volume its image belongs to (temporary names mapped back), or the pool.</summary>
    private string Subject(IReadOnlyList<string> arguments)
    {
        // The last image named is the one being made or changed (clone, cp and rename name their source first).
        var image = arguments.LastOrDefault(argument => argument.StartsWith(CephPool + "/", StringComparison.Ordinal));
        return image is null
            ? $"pool '{Definition.Name}' (Ceph pool {CephPool})"
            : $"volume '{IdOf(VolumeNameOf(image[(CephPool.Length + 1)..].Split('@')[0]))}' (Ceph pool {CephPool})";
    }

    private string Fix(string error) => error switch
    {
        _ when error.Contains("(28)", StringComparison.Ordinal) || error.Contains("No space left", StringComparison.Ordinal) || error.Contains("quota", StringComparison.OrdinalIgnoreCase) =>
            $"the cluster or the pool's quota is full: free space (ceph df -c {Config}) or raise the quota of pool {CephPool}",
        _ when error.Contains("(1)", StringComparison.Ordinal) || error.Contains("(13)", StringComparison.Ordinal) || error.Contains("Permission denied", StringComparison.Ordinal) =>
            $"client.{User} may not do this: give it 'profile rbd' caps on pool {CephPool} (ceph auth caps)",
        _ when error.Contains("(110)", StringComparison.Ordinal) || error.Contains("timed out", StringComparison.OrdinalIgnoreCase) =>
            $"the monitors named in {Config} do not answer: check the cluster (ceph -s -c {Config}) and the network",
        _ when error.Contains("(16)", StringComparison.Ordinal) || error.Contains("watchers", StringComparison.Ordinal) =>
            "the image is open elsewhere (a running guest, another host): stop what uses it, then try again",
        _ => $"check the cluster's health (ceph -s -c {Config}) and try again",
    };

    private string Image(string name) => $"{CephPool}/{name}";

    private static string Bytes(long size) => size.ToString(CultureInfo.InvariantCulture) + "B";

    private void CheckSnapshotName(string snapshot)
    {
        CheckName(snapshot, "snapshot");
        if (snapshot.StartsWith(BaseSnapshotPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"snapshot names starting with '{BaseSnapshotPrefix}' are the SDK's own (bases of linked clones)", nameof(snapshot));
        }
    }
}
