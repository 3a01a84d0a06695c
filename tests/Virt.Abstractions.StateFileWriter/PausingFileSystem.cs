using System.IO.Abstractions;

namespace Virt.StateFileWriter;

/// <summary>
/// The real file system, except that a rename announces itself on stdout ("paused") and never returns: the
/// temporary file is written and fsynced by then, so the parent's SIGKILL lands exactly between write and rename.
/// </summary>
internal sealed class PausingFileSystem : FileSystem
{
    public PausingFileSystem() => File = new PausingFile(this);

    public override IFile File { get; }

    private sealed class PausingFile(IFileSystem fileSystem) : FileWrapper(fileSystem)
    {
        public override void Move(string sourceFileName, string destFileName, bool overwrite)
        {
            Console.Out.WriteLine("paused");
            Console.Out.Flush();
            Thread.Sleep(Timeout.Infinite);
        }
    }
}
