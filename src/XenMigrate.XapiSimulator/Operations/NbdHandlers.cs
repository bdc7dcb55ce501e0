using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// VDI.get_nbd_info (xapi_vdi.ml:1461-1593) and the network purposes it reads
/// (network.add_purpose / remove_purpose, xapi_network.ml:417-462).
/// </summary>
internal static class NbdHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VDI.get_nbd_info", GetNbdInfo);
        registry.Add("network.add_purpose", call =>
        {
            lock (call.Db.Sync)
            {
                var network = call.Db.Require("network", call.Ref(1));
                var value = call.String(2);
                if (value is not ("nbd" or "insecure_nbd")) throw new XapiException(XapiErrors.InvalidValue, "purpose", value);
                if (network.GetStrings("purpose").Contains(value, StringComparer.Ordinal)) return ValueTask.FromResult<JsonNode?>(null);
                // nbd (TLS) and insecure_nbd exclude each other pool-wide.
                var conflicting = value == "nbd" ? "insecure_nbd" : "nbd";
                if (call.Db.All("network").Any(n => n.GetStrings("purpose").Contains(conflicting, StringComparer.Ordinal)))
                    throw new XapiException(XapiErrors.NetworkIncompatiblePurposes, value, conflicting);
                network.AddToSet("purpose", value);
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
        registry.Add("network.remove_purpose", call =>
        {
            lock (call.Db.Sync)
            {
                call.Db.Require("network", call.Ref(1)).RemoveFromSet("purpose", call.String(2));
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
    }

    /// <summary>
    /// One vdi_nbd_server_info per address: for every host with the VDI's SR plugged, the IPs of
    /// its attached PIFs on networks whose purpose is nbd or insecure_nbd (none: an empty set).
    /// The export name carries the caller's session; the port is the host's NBD server's.
    /// </summary>
    private static ValueTask<JsonNode?> GetNbdInfo(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            var db = call.Db;
            var vdi = db.Require("VDI", call.Ref(1));
            VdiHandlers.AssertNotCbtMetadata(vdi);
            var hosts = db.All("PBD").Where(p => p.GetString("SR") == vdi.GetString("SR") && p.GetBool("currently_attached"))
                .Select(p => p.GetString("host")).Distinct().ToList();
            var networks = db.All("network")
                .Where(n => n.GetStrings("purpose").Any(p => p is "nbd" or "insecure_nbd")).Select(n => n.Ref).ToHashSet(StringComparer.Ordinal);
            var result = new JsonArray();
            foreach (var hostRef in hosts)
            {
                if (call.Host.Pool.Member(hostRef) is not { } member) continue;
                var addresses = db.All("PIF")
                    .Where(p => p.GetString("host") == hostRef && p.GetBool("currently_attached") && networks.Contains(p.GetString("network")))
                    .SelectMany(p => new[] { p.GetString("IP") }.Concat(p.GetStrings("IPv6")))
                    .Where(ip => ip.Length > 0).ToList();
                if (addresses.Count == 0) continue;
                var certificate = Certificate(member);
                foreach (var address in addresses)
                {
                    result.Add(new JsonObject
                    {
                        ["exportname"] = $"/{vdi.Uuid}?session_id={call.Session}",
                        ["address"] = address,
                        ["port"] = (long)member.NbdPort,
                        ["cert"] = certificate,
                        ["subject"] = member.Options.Name,
                    });
                }
            }

            return ValueTask.FromResult<JsonNode?>(result);
        }
    }

    /// <summary>The host's self-signed server certificate (PEM), its subject the host name; made on first use.</summary>
    private static string Certificate(HostRuntime host)
    {
        if (host.ServerCertificatePem.Length > 0) return host.ServerCertificatePem;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={host.Options.Name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host.Options.Name);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));
        host.ServerCertificatePem = certificate.ExportCertificatePem();
        return host.ServerCertificatePem;
    }
}
