using System.Buffers.Binary;
using System.Text;

namespace XenMigrate.XapiSimulator.Vhd;

public enum VhdDiskType : uint
{
    Fixed = 2,
    Dynamic = 3,
    Differencing = 4,
}

/// <summary>A malformed or unsupported VHD stream.</summary>
public sealed class VhdFormatException : Exception
{
    public VhdFormatException(string message)
        : base(message)
    {
    }

    public VhdFormatException()
    {
    }

    public VhdFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Layout constants of the VHD format (Microsoft VHD spec); all fields are big-endian.</summary>
public static class VhdLayout
{
    public const int SectorSize = 512;
    public const int FooterSize = 512;
    public const int DynamicHeaderSize = 1024;
    public const int DefaultBlockSize = 2 * 1024 * 1024;
    public const uint UnusedBatEntry = 0xFFFFFFFF;

    /// <summary>Where xapi's streams put the BAT: after footer copy, header and one zero sector.</summary>
    public const long StreamTableOffset = 2048;

    /// <summary>The zero sector that a streamed differencing disk's MacX locator points at.</summary>
    public const long StreamLocatorOffset = 1536;

    /// <summary>Largest VHD xapi exports (<c>Constants.max_vhd_size</c>, 2040 GiB).</summary>
    public const long MaxVirtualSize = 2040L * 1024 * 1024 * 1024;

    public const uint PlatformCodeMacX = 0x4D616358;

    public static readonly DateTimeOffset TimestampEpoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static long RoundUpToSector(long bytes) => (bytes + SectorSize - 1) / SectorSize * SectorSize;

    /// <summary>Sector bitmap of a block: one bit per sector, padded to a whole sector.</summary>
    public static int BitmapSize(int blockSize) => (int)RoundUpToSector(blockSize / SectorSize / 8);

    public static uint Timestamp(DateTimeOffset time) => (uint)Math.Max(0, (time - TimestampEpoch).TotalSeconds);

    /// <summary>One's complement of the byte sum, with the checksum field itself counted as zero.</summary>
    public static uint Checksum(ReadOnlySpan<byte> structure, int checksumOffset)
    {
        uint sum = 0;
        for (var i = 0; i < structure.Length; i++)
            if (i < checksumOffset || i >= checksumOffset + 4) sum += structure[i];
        return ~sum;
    }
}

/// <summary>CHS geometry as the VHD spec's appendix computes it from the disk size.</summary>
public readonly record struct VhdGeometry(ushort Cylinders, byte Heads, byte SectorsPerTrack)
{
    public static VhdGeometry FromSize(long bytes)
    {
        var totalSectors = bytes / VhdLayout.SectorSize;
        totalSectors = Math.Min(totalSectors, 65535L * 16 * 255);
        long sectorsPerTrack, heads, cylinderTimesHeads;
        if (totalSectors >= 65535L * 16 * 63)
        {
            sectorsPerTrack = 255;
            heads = 16;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
        }
        else
        {
            sectorsPerTrack = 17;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
            heads = Math.Max(4, (cylinderTimesHeads + 1023) / 1024);
            if (cylinderTimesHeads >= heads * 1024 || heads > 16)
            {
                sectorsPerTrack = 31;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }

            if (cylinderTimesHeads >= heads * 1024)
            {
                sectorsPerTrack = 63;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }
        }

        return new VhdGeometry((ushort)(cylinderTimesHeads / heads), (byte)heads, (byte)sectorsPerTrack);
    }
}

/// <summary>The 512-byte footer (also copied at offset 0 of dynamic and differencing disks).</summary>
public sealed record VhdFooter(
    VhdDiskType DiskType,
    long CurrentSize,
    Guid UniqueId,
    uint Timestamp,
    long DataOffset = VhdLayout.FooterSize,
    string CreatorApplication = "tap\0",
    uint CreatorVersion = 0x00010003,
    uint CreatorHostOs = 0,
    long? OriginalSize = null,
    VhdGeometry? Geometry = null)
{
    private const string Cookie = "conectix";
    private const int ChecksumOffset = 64;

    public byte[] ToBytes()
    {
        var b = new byte[VhdLayout.FooterSize];
        Encoding.ASCII.GetBytes(Cookie, b);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(8), 0x00000002); // features: "reserved" bit always set
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), 0x00010000);
        BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(16), DataOffset);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(24), Timestamp);
        Encoding.ASCII.GetBytes(CreatorApplication.PadRight(4, '\0').AsSpan(0, 4), b.AsSpan(28));
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(32), CreatorVersion);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(36), CreatorHostOs);
        BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(40), OriginalSize ?? CurrentSize);
        BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(48), CurrentSize);
        var geometry = Geometry ?? VhdGeometry.FromSize(CurrentSize);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(56), geometry.Cylinders);
        b[58] = geometry.Heads;
        b[59] = geometry.SectorsPerTrack;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(60), (uint)DiskType);
        UniqueId.TryWriteBytes(b.AsSpan(68, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(ChecksumOffset), VhdLayout.Checksum(b, ChecksumOffset));
        return b;
    }

    public static VhdFooter Parse(ReadOnlySpan<byte> b)
    {
        if (b.Length < VhdLayout.FooterSize) throw new VhdFormatException("Truncated VHD footer.");
        if (Encoding.ASCII.GetString(b[..8]) != Cookie) throw new VhdFormatException("No VHD footer (cookie 'conectix' missing).");
        var stored = BinaryPrimitives.ReadUInt32BigEndian(b[ChecksumOffset..]);
        if (stored != VhdLayout.Checksum(b[..VhdLayout.FooterSize], ChecksumOffset))
            throw new VhdFormatException("VHD footer checksum mismatch.");
        return new VhdFooter(
            (VhdDiskType)BinaryPrimitives.ReadUInt32BigEndian(b[60..]),
            BinaryPrimitives.ReadInt64BigEndian(b[48..]),
            new Guid(b.Slice(68, 16), bigEndian: true),
            BinaryPrimitives.ReadUInt32BigEndian(b[24..]),
            BinaryPrimitives.ReadInt64BigEndian(b[16..]),
            Encoding.ASCII.GetString(b.Slice(28, 4)),
            BinaryPrimitives.ReadUInt32BigEndian(b[32..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[36..]),
            BinaryPrimitives.ReadInt64BigEndian(b[40..]),
            new VhdGeometry(BinaryPrimitives.ReadUInt16BigEndian(b[56..]), b[58], b[59]));
    }
}

/// <summary>A parent locator entry of a differencing disk's header (24 bytes).</summary>
public readonly record struct VhdParentLocator(uint PlatformCode, uint DataSpace, uint DataLength, long DataOffset);

/// <summary>The 1024-byte dynamic disk header ("cxsparse").</summary>
public sealed record VhdDynamicHeader(
    long TableOffset,
    uint MaxTableEntries,
    uint BlockSize,
    Guid ParentUniqueId = default,
    uint ParentTimestamp = 0,
    string ParentName = "",
    IReadOnlyList<VhdParentLocator>? Locators = null)
{
    private const string Cookie = "cxsparse";
    private const int ChecksumOffset = 36;
    private const int ParentNameOffset = 64;
    private const int ParentNameSize = 512;
    private const int LocatorsOffset = 576;
    private const int LocatorSize = 24;
    private const int LocatorCount = 8;

    public byte[] ToBytes()
    {
        var b = new byte[VhdLayout.DynamicHeaderSize];
        Encoding.ASCII.GetBytes(Cookie, b);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(8), ulong.MaxValue); // data offset: unused
        BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(16), TableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(24), 0x00010000);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(28), MaxTableEntries);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(32), BlockSize);
        if (ParentUniqueId != Guid.Empty) ParentUniqueId.TryWriteBytes(b.AsSpan(40, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(56), ParentTimestamp);
        var name = Encoding.BigEndianUnicode.GetBytes(ParentName);
        name.AsSpan(0, Math.Min(name.Length, ParentNameSize - 2)).CopyTo(b.AsSpan(ParentNameOffset));
        var locators = Locators ?? [];
        for (var i = 0; i < Math.Min(locators.Count, LocatorCount); i++)
        {
            var at = b.AsSpan(LocatorsOffset + i * LocatorSize, LocatorSize);
            BinaryPrimitives.WriteUInt32BigEndian(at, locators[i].PlatformCode);
            BinaryPrimitives.WriteUInt32BigEndian(at[4..], locators[i].DataSpace);
            BinaryPrimitives.WriteUInt32BigEndian(at[8..], locators[i].DataLength);
            BinaryPrimitives.WriteInt64BigEndian(at[16..], locators[i].DataOffset);
        }

        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(ChecksumOffset), VhdLayout.Checksum(b, ChecksumOffset));
        return b;
    }

    public static VhdDynamicHeader Parse(ReadOnlySpan<byte> b)
    {
        if (b.Length < VhdLayout.DynamicHeaderSize) throw new VhdFormatException("Truncated VHD dynamic header.");
        if (Encoding.ASCII.GetString(b[..8]) != Cookie) throw new VhdFormatException("No VHD dynamic header (cookie 'cxsparse' missing).");
        var stored = BinaryPrimitives.ReadUInt32BigEndian(b[ChecksumOffset..]);
        if (stored != VhdLayout.Checksum(b[..VhdLayout.DynamicHeaderSize], ChecksumOffset))
            throw new VhdFormatException("VHD dynamic header checksum mismatch.");
        var locators = new List<VhdParentLocator>();
        for (var i = 0; i < LocatorCount; i++)
        {
            var at = b.Slice(LocatorsOffset + i * LocatorSize, LocatorSize);
            var code = BinaryPrimitives.ReadUInt32BigEndian(at);
            if (code == 0) continue;
            locators.Add(new VhdParentLocator(code, BinaryPrimitives.ReadUInt32BigEndian(at[4..]),
                BinaryPrimitives.ReadUInt32BigEndian(at[8..]), BinaryPrimitives.ReadInt64BigEndian(at[16..])));
        }

        var name = Encoding.BigEndianUnicode.GetString(b.Slice(ParentNameOffset, ParentNameSize)).TrimEnd('\0');
        return new VhdDynamicHeader(
            BinaryPrimitives.ReadInt64BigEndian(b[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[28..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[32..]),
            new Guid(b.Slice(40, 16), bigEndian: true),
            BinaryPrimitives.ReadUInt32BigEndian(b[56..]),
            name,
            locators);
    }
}
