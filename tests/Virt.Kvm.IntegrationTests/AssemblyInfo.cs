// Guests under TCG saturate both cores of a CI machine; timing assertions elsewhere (calls failing
// within a second of SIGKILL) must not share the machine with them. Run one test at a time.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]
