namespace Virt.Storage;

/// <summary>A storage operation failed or was refused; the message names the pool or volume, what was tried and the fix.</summary>
public class StorageException : VirtException
{
    /// <summary>Creates the exception.</summary>
    public StorageException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public StorageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public StorageException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public StorageException(VirtErrorKind errorKind, string message)
        : base(errorKind, message)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public StorageException(VirtErrorKind errorKind, string message, Exception? innerException)
        : base(errorKind, message, innerException)
    {
    }
}

/// <summary>No pool of that name is defined.</summary>
public sealed class StoragePoolNotFoundException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="pool">The name looked up.</param>
    public StoragePoolNotFoundException(string pool)
        : base(VirtErrorKind.NotFound, $"storage pool '{pool}' is not defined: define it with DefinePoolAsync, or check the name")
    {
        Pool = pool;
    }

    /// <summary>The name looked up.</summary>
    public string Pool { get; }
}

/// <summary>No volume of that name is in the pool.</summary>
public sealed class VolumeNotFoundException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="id">The volume looked up.</param>
    public VolumeNotFoundException(VolumeId id)
        : base(VirtErrorKind.NotFound, $"volume '{id}' does not exist: check the name, or list the pool's volumes")
    {
        Id = id;
    }

    /// <summary>The volume looked up.</summary>
    public VolumeId Id { get; }
}

/// <summary>The operation is refused because of the volume's state: in use, a base of linked clones, locked by someone else, a shrink without consent.</summary>
public sealed class VolumeStateException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="id">The volume.</param>
    /// <param name="message">Why, and the fix.</param>
    public VolumeStateException(VolumeId id, string message)
        : base(VirtErrorKind.Conflict, $"volume '{id}': {message}")
    {
        Id = id;
    }

    /// <summary>The volume.</summary>
    public VolumeId Id { get; }
}
