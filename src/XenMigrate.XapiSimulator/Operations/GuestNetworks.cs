using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// What a guest agent writes under attr/ethN and xapi copies into VM_guest_metrics.networks
/// (xapi_guest_agent.ml): for each plugged VIF, "N/ip" and "N/ipv4/0" with the IPv4 address the
/// guest took on the VIF's network, and "N/ipv6/0" with its link-local IPv6 address. The simulated
/// network hands out addresses as a DHCP server on that segment would: the same MAC on the same
/// network (by name, as one L2 segment seen from several pools) always gets the same address.
/// </summary>
internal static class GuestNetworks
{
    public static JsonObject Of(XapiDatabase db, XapiObject vm)
    {
        var networks = new JsonObject();
        foreach (var vif in vm.GetStrings("VIFs").Select(r => db.Find("VIF", r)).OfType<XapiObject>()
                     .Where(v => v.GetBool("currently_attached")).OrderBy(v => v.GetString("device"), StringComparer.Ordinal))
        {
            if (ParseMac(vif.GetString("MAC")) is not { } mac) continue;
            var device = vif.GetString("device");
            var label = db.Find("network", vif.GetString("network"))?.GetString("name_label") ?? string.Empty;
            var ipv4 = Lease(label, mac);
            networks[$"{device}/ip"] = ipv4;
            networks[$"{device}/ipv4/0"] = ipv4;
            networks[$"{device}/ipv6/0"] = LinkLocal(mac);
        }

        return networks;
    }

    /// <summary>Rewrites the running guest's reported networks after a VIF was plugged or unplugged.</summary>
    public static void Refresh(HostRuntime host, XapiObject vm)
    {
        if (host.Database.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is not { } metrics) return;
        metrics.Set("networks", Of(host.Database, vm));
        metrics.Set("last_updated", host.Now());
    }

    /// <summary>10.a.b.0/24 per network name, the host part from the MAC's last bytes (never .0, .1 or .255).</summary>
    private static string Lease(string networkLabel, byte[] mac)
    {
        var subnet = SHA256.HashData(Encoding.UTF8.GetBytes(networkLabel));
        var hostPart = ((mac[4] << 8) | mac[5]) % 253 + 2;
        return string.Create(CultureInfo.InvariantCulture, $"10.{subnet[0]}.{subnet[1]}.{hostPart}");
    }

    /// <summary>The modified EUI-64 link-local address of a MAC (RFC 4291 appendix A).</summary>
    private static string LinkLocal(byte[] mac)
    {
        byte[] address = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, (byte)(mac[0] ^ 0x02), mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]];
        return new System.Net.IPAddress(address).ToString();
    }

    private static byte[]? ParseMac(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 6) return null;
        var bytes = new byte[6];
        for (var i = 0; i < 6; i++)
            if (!byte.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out bytes[i])) return null;
        return bytes;
    }
}
