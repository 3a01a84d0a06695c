using System.IO.Abstractions;
using Virt.IO;
using Virt.StateFileWriter;

// Usage:
//   pause <path> <version>  write that version, but stop just before the rename (after the temporary is fsynced), print "paused" and wait to be killed
//   loop <path> <first>     write versions first, first+1, ... forever, printing "wrote N" after each
var path = args[1];
var version = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
switch (args[0])
{
    case "pause":
        StateFile.Write(new PausingFileSystem(), path, StateVersion.Content(version), OwnerOnly.FileMode);
        return 1; // never reached: the parent kills this process while the rename waits

    case "loop":
        var fileSystem = new FileSystem();
        for (var next = version; ; next++)
        {
            StateFile.Write(fileSystem, path, StateVersion.Content(next), OwnerOnly.FileMode);
            Console.Out.WriteLine($"wrote {next}");
            Console.Out.Flush();
        }

    default:
        Console.Error.WriteLine($"unknown mode '{args[0]}': use pause or loop");
        return 2;
}
