[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Virt.Passthrough.Tests")]
