using System.Runtime.Versioning;

// QEMU, its unix sockets and SCM_RIGHTS fd passing exist on Linux hosts only.
[assembly: SupportedOSPlatform("linux")]
