using System.Runtime.InteropServices;
using System.Text;
using Virt.Kvm.Interop;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Starts QEMU with <c>posix_spawn</c>: its own session (so it outlives the application and can be
/// re-attached), stdin from /dev/null, stdout and stderr appended to the VM's log file, and chosen
/// descriptors (the monitor's listening socket) placed at fixed numbers. .NET's <c>Process</c> can
/// do none of these.
/// </summary>
internal static unsafe class QemuSpawner
{
    /// <summary>The first descriptor number handed to QEMU (0–2 are stdio).</summary>
    public const int FirstPassedDescriptor = 3;

    /// <summary>Spawns the program; returns its pid.</summary>
    /// <param name="program">Absolute path of the binary.</param>
    /// <param name="arguments">argv[1..].</param>
    /// <param name="logPath">Where stdout and stderr are appended.</param>
    /// <param name="passedDescriptors">Open descriptors to hand over, as 3, 4, ... in order.</param>
    public static int Spawn(string program, IReadOnlyList<string> arguments, string logPath, IReadOnlyList<SafeHandle> passedDescriptors)
    {
        var allocations = new List<IntPtr>();
        var fileActions = NativeMemory.AllocZeroed(LibC.SpawnStructSize);
        var attributes = NativeMemory.AllocZeroed(LibC.SpawnStructSize);
        var signals = NativeMemory.AllocZeroed(LibC.SigSetSize);
        var temporaryDescriptors = new List<int>();
        var addedRefs = new List<SafeHandle>();
        try
        {
            Check(LibC.FileActionsInit(fileActions), "posix_spawn_file_actions_init");
            Check(LibC.AttributesInit(attributes), "posix_spawnattr_init");
            Check(LibC.FileActionsAddOpen(fileActions, 0, Utf8(allocations, "/dev/null"), LibC.ORdonly, 0), "addopen stdin");
            Check(LibC.FileActionsAddOpen(fileActions, 1, Utf8(allocations, logPath), LibC.OWronly | LibC.OCreat | LibC.OAppend, Convert.ToInt32("600", 8)), "addopen log");
            Check(LibC.FileActionsAddDup2(fileActions, 1, 2), "adddup2 stderr");
            for (var i = 0; i < passedDescriptors.Count; i++)
            {
                var added = false;
                passedDescriptors[i].DangerousAddRef(ref added);
                addedRefs.Add(passedDescriptors[i]);

                // Copy to a high number first, so that dup2 onto 3, 4... never meets a descriptor
                // already sitting there (dup2 of a fd onto itself would keep close-on-exec set).
                var high = LibC.Fcntl((int)passedDescriptors[i].DangerousGetHandle(), LibC.FDupfdCloexec, 100);
                if (high < 0)
                {
                    throw new IOException($"fcntl(F_DUPFD_CLOEXEC) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                temporaryDescriptors.Add(high);
                Check(LibC.FileActionsAddDup2(fileActions, high, FirstPassedDescriptor + i), "adddup2 passed descriptor");
            }

            // The child starts its own session, with no blocked signals and default handlers
            // (.NET blocks and handles some signals in the parent).
            Check(LibC.SigEmptySet(signals), "sigemptyset");
            Check(LibC.AttributesSetSigMask(attributes, signals), "posix_spawnattr_setsigmask");
            Check(LibC.SigFillSet(signals), "sigfillset");
            Check(LibC.AttributesSetSigDefault(attributes, signals), "posix_spawnattr_setsigdefault");
            Check(LibC.AttributesSetFlags(attributes, (short)(LibC.PosixSpawnSetSid | LibC.PosixSpawnSetSigMask | LibC.PosixSpawnSetSigDef)), "posix_spawnattr_setflags");

            var argv = StringArray(allocations, [program, .. arguments]);
            var environment = Environment.GetEnvironmentVariables();
            var envp = StringArray(allocations, environment.Keys.Cast<string>().Select(key => $"{key}={environment[key]}").ToList());
            var result = LibC.PosixSpawn(out var pid, Utf8(allocations, program), fileActions, attributes, argv, envp);
            if (result != 0)
            {
                throw new IOException($"posix_spawn of '{program}' failed: {Marshal.GetPInvokeErrorMessage(result)} (errno {result})");
            }

            return pid;
        }
        finally
        {
            foreach (var fd in temporaryDescriptors)
            {
                LibC.Close(fd);
            }

            foreach (var handle in addedRefs)
            {
                handle.DangerousRelease();
            }

            LibC.FileActionsDestroy(fileActions);
            LibC.AttributesDestroy(attributes);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attributes);
            NativeMemory.Free(signals);
            foreach (var pointer in allocations)
            {
                Marshal.FreeCoTaskMem(pointer);
            }
        }
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new IOException($"{call} failed with {result}");
        }
    }

    private static byte* Utf8(List<IntPtr> allocations, string value)
    {
        var pointer = Marshal.StringToCoTaskMemUTF8(value);
        allocations.Add(pointer);
        return (byte*)pointer;
    }

    private static byte** StringArray(List<IntPtr> allocations, IReadOnlyList<string> values)
    {
        var array = (byte**)Marshal.AllocCoTaskMem((values.Count + 1) * sizeof(IntPtr));
        allocations.Add((IntPtr)array);
        for (var i = 0; i < values.Count; i++)
        {
            array[i] = Utf8(allocations, values[i]);
        }

        array[values.Count] = null;
        return array;
    }
}
