// Containers share the host's bridges, cgroups and two cores; the 50-cycle leak check must see only
// its own container. Run one test at a time.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]
