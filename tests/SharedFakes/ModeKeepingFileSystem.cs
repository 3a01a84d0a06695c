using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;

namespace Virt.Tests;

/// <summary>
/// A <see cref="MockFileSystem"/> that keeps Unix modes, which the mock itself does not: the mode a directory
/// or file is created with (<c>CreateDirectory(path, mode)</c>, <see cref="FileStreamOptions.UnixCreateMode"/>) or
/// given by a chmod is answered by <c>GetUnixFileMode</c> (0755 for a directory and 0644 for a file made without
/// one, as umask 022 gives) and recorded in order in <see cref="ModesGiven"/>. <see cref="FailCreating"/> makes
/// creating the files it picks fail as a full disk would. Shared as source by the backends' unit tests.
/// </summary>
internal class ModeKeepingFileSystem : MockFileSystem
{
    private const UnixFileMode Default = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Executable = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private readonly Dictionary<string, UnixFileMode> _modes = new(StringComparer.Ordinal);
    private readonly IFileStreamFactory? _streams;
    private readonly IDirectory? _directory;
    private readonly IFile? _file;

    public ModeKeepingFileSystem(IDictionary<string, MockFileData>? files = null)
        : base(files ?? new Dictionary<string, MockFileData>())
    {
        _streams = new ModeKeepingStreams(this);
        _directory = new ModeKeepingDirectory(this, base.Directory.GetCurrentDirectory());
        _file = new ModeKeepingFile(this);
    }

    /// <summary>Each mode given, in order: at a file's creation (through a stream), a directory's creation, or a chmod.</summary>
    public List<(string Path, UnixFileMode Mode)> ModesGiven { get; } = [];

    /// <summary>Picks the paths whose creation fails with "No space left on device".</summary>
    public Func<string, bool> FailCreating { get; set; } = _ => false;

    // MockFileSystem's constructor uses these before this one's body has run: its own until then.
    public override IFileStreamFactory FileStream => _streams ?? base.FileStream;

    public override IDirectory Directory => _directory ?? base.Directory;

    public override IFile File => _file ?? base.File;

    private void Give(string path, UnixFileMode mode)
    {
        _modes[path] = mode;
        ModesGiven.Add((path, mode));
    }

    private sealed class ModeKeepingDirectory(ModeKeepingFileSystem fileSystem, string currentDirectory) : MockDirectory(fileSystem, currentDirectory)
    {
        public override IDirectoryInfo CreateDirectory(string path, UnixFileMode unixCreateMode)
        {
            var existed = Exists(path);
            var directory = CreateDirectory(path);
            if (!existed)
            {
                fileSystem.Give(path, unixCreateMode);
            }

            return directory;
        }

        /// <summary>A renamed directory keeps its mode, and so does everything in it.</summary>
        public override void Move(string sourceDirName, string destDirName)
        {
            base.Move(sourceDirName, destDirName);
            foreach (var (path, mode) in fileSystem._modes.Where(entry => entry.Key == sourceDirName || entry.Key.StartsWith(sourceDirName + "/", StringComparison.Ordinal)).ToList())
            {
                fileSystem._modes.Remove(path);
                fileSystem._modes[destDirName + path[sourceDirName.Length..]] = mode;
            }
        }
    }

    private sealed class ModeKeepingFile(ModeKeepingFileSystem fileSystem) : MockFile(fileSystem)
    {
        public override UnixFileMode GetUnixFileMode(string path)
        {
            var directory = fileSystem.Directory.Exists(path);
            return !directory && !Exists(path)
                ? throw new FileNotFoundException($"'{path}' does not exist", path)
                : fileSystem._modes.GetValueOrDefault(path, directory ? Default | Executable : Default);
        }

        public override void SetUnixFileMode(string path, UnixFileMode mode)
        {
            _ = GetUnixFileMode(path);
            fileSystem.Give(path, mode);
        }
    }

    private sealed class ModeKeepingStreams(ModeKeepingFileSystem fileSystem) : DelegatingFileStreamFactory(fileSystem)
    {
        public override FileSystemStream New(string path, FileStreamOptions options)
        {
            if (fileSystem.FailCreating(path))
            {
                throw new IOException("No space left on device");
            }

            var existed = fileSystem.File.Exists(path);
            var stream = Inner.New(path, options);
            if (!existed && options.UnixCreateMode is { } mode)
            {
                fileSystem.Give(path, mode);
            }

            return stream;
        }
    }
}
