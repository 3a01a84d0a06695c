namespace Virt.Kvm.VirtualMachines;

/// <summary>Writes a file so that readers see the old or the new content, never a half-written one: temp file, fsync, rename.</summary>
internal static class AtomicFile
{
    public static async Task WriteAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        File.Delete(temporary);
        var stream = PrivateFile.CreateNew(temporary);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
#pragma warning disable CA1849 // fsync has no asynchronous form; it is what makes the rename safe.
            stream.Flush(flushToDisk: true);
#pragma warning restore CA1849
        }

        File.Move(temporary, path, overwrite: true);
    }
}
