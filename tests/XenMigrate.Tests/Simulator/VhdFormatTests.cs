using System.Buffers.Binary;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.Tests.Simulator;

/// <summary>The VHD structures against the Microsoft VHD specification.</summary>
public class VhdFormatTests
{
    [TestCase(8L * 1024 * 1024, 240, 4, 17)]
    [TestCase(1024L * 1024 * 1024, 2080, 16, 63)]
    [TestCase(100L * 1024 * 1024 * 1024, 51400, 16, 255)]
    [TestCase(3000L * 1024 * 1024 * 1024, 65535, 16, 255)]
    public void Geometry_FollowsTheSpecsAlgorithm(long size, int cylinders, int heads, int sectors)
    {
        var geometry = VhdGeometry.FromSize(size);

        Assert.That(geometry, Is.EqualTo(new VhdGeometry((ushort)cylinders, (byte)heads, (byte)sectors)));
    }

    [Test]
    public void Footer_IsBigEndian_WithAValidChecksum()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var bytes = new VhdFooter(VhdDiskType.Dynamic, 8L * 1024 * 1024, id, 1234).ToBytes();

        Assert.That(bytes, Has.Length.EqualTo(512));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 0, 8), Is.EqualTo("conectix"));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8)), Is.EqualTo(2u), "features: reserved bit");
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(12)), Is.EqualTo(0x00010000u));
        Assert.That(BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(16)), Is.EqualTo(512));
        Assert.That(BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(48)), Is.EqualTo(8L * 1024 * 1024));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(60)), Is.EqualTo(3u));
        Assert.That(bytes.AsSpan(68, 16).ToArray(), Is.EqualTo(Convert.FromHexString("00112233445566778899aabbccddeeff")), "RFC 4122 byte order");
        uint sum = 0;
        for (var i = 0; i < 512; i++) if (i is < 64 or >= 68) sum += bytes[i];
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(64)), Is.EqualTo(~sum));
        Assert.That(VhdFooter.Parse(bytes).UniqueId, Is.EqualTo(id));
    }

    [Test]
    public void Header_RoundTrips_WithParentNameInUtf16BigEndian()
    {
        var parent = Guid.NewGuid();
        var header = new VhdDynamicHeader(2048, 4, 2 * 1024 * 1024, parent, 99, "/var/run/sr-mount/x/y.vhd",
            [new VhdParentLocator(VhdLayout.PlatformCodeMacX, 1, 34, 1536)]);

        var bytes = header.ToBytes();
        var parsed = VhdDynamicHeader.Parse(bytes);

        Assert.That(bytes[64], Is.Zero, "big-endian UTF-16: high byte first");
        Assert.That(bytes[65], Is.EqualTo((byte)'/'));
        Assert.That(parsed.ParentUniqueId, Is.EqualTo(parent));
        Assert.That(parsed.ParentName, Is.EqualTo("/var/run/sr-mount/x/y.vhd"));
        Assert.That(parsed.Locators, Is.EqualTo(header.Locators));
        Assert.That(parsed.TableOffset, Is.EqualTo(2048));
    }

    [Test]
    public void BrokenChecksum_IsRejected()
    {
        var bytes = new VhdFooter(VhdDiskType.Dynamic, 1024 * 1024, Guid.NewGuid(), 0).ToBytes();
        bytes[40] ^= 1;

        Assert.Throws<VhdFormatException>(() => VhdFooter.Parse(bytes));
    }
}
