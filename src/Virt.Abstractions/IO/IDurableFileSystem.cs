using System.IO.Abstractions;

namespace Virt.IO;

/// <summary>
/// A file system that can flush a directory's entries to disk. <see cref="StateFile"/> flushes the directory
/// after its rename on the real <see cref="FileSystem"/>; a wrapper around the real file system (to count or
/// to inject faults) implements this to keep that step, usually by calling <see cref="StateFile.FlushDirectoryToDisk"/>.
/// </summary>
public interface IDurableFileSystem : IFileSystem
{
    /// <summary>Makes the renames and removals done in <paramref name="directory"/> durable.</summary>
    /// <param name="directory">A full path of a directory.</param>
    void FlushDirectory(string directory);
}
