using System.Buffers.Binary;
using System.Text;

namespace Virt.Kvm.CloudInit;

/// <summary>
/// Writes a small ISO 9660 image with one root directory of files: a primary volume descriptor (names
/// upper-cased, as the standard wants) plus a Joliet supplementary descriptor carrying the exact names
/// in UCS-2, which Linux and cloud-init read. Enough for a cloud-init NoCloud seed; no subdirectories,
/// no Rock Ridge, files up to 4 GiB − 1.
/// </summary>
internal static class Iso9660Writer
{
    private const int Sector = 2048;
    private const int FirstDescriptor = 16;

    /// <summary>Builds the image.</summary>
    /// <param name="volumeLabel">The volume label, e.g. "cidata" (1–16 of A-Z a-z 0-9 _).</param>
    /// <param name="files">File name (1–64 of A-Z a-z 0-9 . _ -) to content.</param>
    /// <param name="timestamp">The recording time written into the descriptors and records.</param>
    /// <returns>The image's bytes.</returns>
    public static byte[] Build(string volumeLabel, IReadOnlyDictionary<string, byte[]> files, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (string.IsNullOrEmpty(volumeLabel) || volumeLabel.Length > 16 || !volumeLabel.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{volumeLabel}' is not a volume label: use 1–16 of A-Z a-z 0-9 _", nameof(volumeLabel));
        }

        var names = files.Keys.Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                throw new ArgumentException($"'{name}' is not a file name this writer takes: use 1–64 of A-Z a-z 0-9 . _ -", nameof(files));
            }
        }

        // Layout: descriptors at 16 (primary), 17 (Joliet), 18 (terminator); path tables 19–22; root
        // directories 23 (primary) and 24 (Joliet); then each file from a sector boundary.
        const int PathTables = 19;
        const int PrimaryRoot = 23;
        const int JolietRoot = 24;
        var fileSectors = new Dictionary<string, int>(StringComparer.Ordinal);
        var next = 25;
        foreach (var name in names)
        {
            fileSectors[name] = next;
            next += Math.Max(1, (files[name].Length + Sector - 1) / Sector);
        }

        var image = new byte[next * Sector];
        var primaryNames = names.ToDictionary(n => n, PrimaryName, StringComparer.Ordinal);
        WriteDirectory(image.AsSpan(PrimaryRoot * Sector, Sector), PrimaryRoot, names, n => Encoding.ASCII.GetBytes(primaryNames[n]), files, fileSectors, timestamp);
        WriteDirectory(image.AsSpan(JolietRoot * Sector, Sector), JolietRoot, names, n => Encoding.BigEndianUnicode.GetBytes(n), files, fileSectors, timestamp);
        WritePathTable(image.AsSpan((PathTables + 0) * Sector), PrimaryRoot, bigEndian: false);
        WritePathTable(image.AsSpan((PathTables + 1) * Sector), PrimaryRoot, bigEndian: true);
        WritePathTable(image.AsSpan((PathTables + 2) * Sector), JolietRoot, bigEndian: false);
        WritePathTable(image.AsSpan((PathTables + 3) * Sector), JolietRoot, bigEndian: true);
        WriteDescriptor(image.AsSpan(FirstDescriptor * Sector, Sector), joliet: false, volumeLabel.ToUpperInvariant(), next, PathTables, PrimaryRoot, timestamp);
        WriteDescriptor(image.AsSpan((FirstDescriptor + 1) * Sector, Sector), joliet: true, volumeLabel, next, PathTables + 2, JolietRoot, timestamp);
        var terminator = image.AsSpan((FirstDescriptor + 2) * Sector, Sector);
        terminator[0] = 255;
        "CD001"u8.CopyTo(terminator[1..]);
        terminator[6] = 1;
        foreach (var name in names)
        {
            files[name].CopyTo(image.AsSpan(fileSectors[name] * Sector));
        }

        return image;
    }

    /// <summary>ISO 9660 level 2 name: upper case, '-' as '_', "NAME.EXT;1".</summary>
    private static string PrimaryName(string name)
    {
        var upper = name.ToUpperInvariant().Replace('-', '_');
        var dot = upper.LastIndexOf('.');
        var (stem, extension) = dot < 0 ? (upper, string.Empty) : (upper[..dot].Replace('.', '_'), upper[(dot + 1)..]);
        return $"{stem}.{extension};1";
    }

    private static void WriteDescriptor(Span<byte> sector, bool joliet, string label, int totalSectors, int pathTableSector, int rootSector, DateTimeOffset timestamp)
    {
        sector[0] = (byte)(joliet ? 2 : 1);
        "CD001"u8.CopyTo(sector[1..]);
        sector[6] = 1;
        TextField(sector.Slice(8, 32), string.Empty, joliet);
        TextField(sector.Slice(40, 32), label, joliet);
        BothEndian32(sector[80..], totalSectors);
        if (joliet)
        {
            "%/E"u8.CopyTo(sector[88..]); // UCS-2 level 3
        }

        BothEndian16(sector[120..], 1);
        BothEndian16(sector[124..], 1);
        BothEndian16(sector[128..], Sector);
        BothEndian32(sector[132..], 10);
        BinaryPrimitives.WriteInt32LittleEndian(sector[140..], pathTableSector);
        BinaryPrimitives.WriteInt32BigEndian(sector[148..], pathTableSector + 1);
        DirectoryRecord(sector.Slice(156, 34), rootSector, Sector, directory: true, [0], timestamp);
        foreach (var (offset, length) in new[] { (190, 128), (318, 128), (446, 128), (574, 128), (702, 37), (739, 37), (776, 37) })
        {
            TextField(sector.Slice(offset, length), string.Empty, joliet);
        }

        var date = Encoding.ASCII.GetBytes(timestamp.UtcDateTime.ToString("yyyyMMddHHmmssff", System.Globalization.CultureInfo.InvariantCulture));
        date.CopyTo(sector[813..]);
        date.CopyTo(sector[830..]);
        "0000000000000000"u8.CopyTo(sector[847..]);
        date.CopyTo(sector[864..]);
        sector[881] = 1;
    }

    private static void WriteDirectory(Span<byte> sector, int self, List<string> names, Func<string, byte[]> encode, IReadOnlyDictionary<string, byte[]> files, Dictionary<string, int> fileSectors, DateTimeOffset timestamp)
    {
        var at = DirectoryRecord(sector, self, Sector, directory: true, [0], timestamp);
        at += DirectoryRecord(sector[at..], self, Sector, directory: true, [1], timestamp);
        foreach (var name in names)
        {
            var length = DirectoryRecord(sector[at..], fileSectors[name], files[name].Length, directory: false, encode(name), timestamp);
            at += length;
            if (at > Sector)
            {
                throw new ArgumentException("too many files for one directory sector", nameof(files));
            }
        }
    }

    private static int DirectoryRecord(Span<byte> target, int extent, int size, bool directory, byte[] name, DateTimeOffset timestamp)
    {
        var length = 33 + name.Length + (name.Length % 2 == 0 ? 1 : 0);
        target[0] = (byte)length;
        BothEndian32(target[2..], extent);
        BothEndian32(target[10..], size);
        var utc = timestamp.UtcDateTime;
        target[18] = (byte)(utc.Year - 1900);
        target[19] = (byte)utc.Month;
        target[20] = (byte)utc.Day;
        target[21] = (byte)utc.Hour;
        target[22] = (byte)utc.Minute;
        target[23] = (byte)utc.Second;
        target[25] = (byte)(directory ? 2 : 0);
        BothEndian16(target[28..], 1);
        target[32] = (byte)name.Length;
        name.CopyTo(target[33..]);
        return length;
    }

    private static void WritePathTable(Span<byte> target, int rootSector, bool bigEndian)
    {
        target[0] = 1;
        if (bigEndian)
        {
            BinaryPrimitives.WriteInt32BigEndian(target[2..], rootSector);
            BinaryPrimitives.WriteInt16BigEndian(target[6..], 1);
        }
        else
        {
            BinaryPrimitives.WriteInt32LittleEndian(target[2..], rootSector);
            BinaryPrimitives.WriteInt16LittleEndian(target[6..], 1);
        }
    }

    private static void TextField(Span<byte> target, string text, bool joliet)
    {
        if (joliet)
        {
            for (var i = 0; i + 1 < target.Length; i += 2)
            {
                BinaryPrimitives.WriteInt16BigEndian(target[i..], (short)(i / 2 < text.Length ? text[i / 2] : ' '));
            }

            if (target.Length % 2 == 1)
            {
                target[^1] = 0;
            }

            return;
        }

        target.Fill((byte)' ');
        Encoding.ASCII.GetBytes(text).CopyTo(target);
    }

    private static void BothEndian16(Span<byte> target, int value)
    {
        BinaryPrimitives.WriteInt16LittleEndian(target, (short)value);
        BinaryPrimitives.WriteInt16BigEndian(target[2..], (short)value);
    }

    private static void BothEndian32(Span<byte> target, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(target, value);
        BinaryPrimitives.WriteInt32BigEndian(target[4..], value);
    }
}
