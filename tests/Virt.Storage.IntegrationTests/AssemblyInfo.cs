// Loop devices and mounts are host-wide; keep the fixtures from racing each other on two cores.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]
