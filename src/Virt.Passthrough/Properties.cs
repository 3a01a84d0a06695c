[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Virt.Passthrough.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Virt.Passthrough.Probe")]
