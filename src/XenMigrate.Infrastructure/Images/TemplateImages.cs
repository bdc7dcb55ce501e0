using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Images;

/// <summary>A XenServer template published as a Glance image: one id for the same template on every host.</summary>
public sealed record TemplateImage(Guid Id, string Name, string Description, long MinRamMb, IReadOnlyList<string> Hosts);

/// <summary>
/// The XenServer templates of the pools, as images (a template is pool-wide: every member of its
/// pool can boot it). The same template has another uuid in every pool, so an image's id is a
/// name-based UUID (RFC 4122 version 5) of the template's name_label, or the uuid an operator put
/// in the template's other_config (<see cref="ImageIdKey"/>): the same everywhere and across restarts.
/// </summary>
public sealed partial class TemplateImages(XenServerPools pools, ILogger<TemplateImages> logger)
{
    /// <summary>other_config key on a template that pins its image id (an operator's choice wins over the name).</summary>
    public const string ImageIdKey = "xenmigrate_image_id";

    /// <summary>The namespace of the name-based ids (a fixed random UUID: changing it changes every image id).</summary>
    private static readonly Guid Namespace = new("6f0b8a5e-3c1d-4e7a-9b2f-8d4c5e6a7b10");

    /// <summary>The image id of a template named <paramref name="nameLabel"/>.</summary>
    public static Guid IdForName(string nameLabel)
    {
        // RFC 4122 §4.3: SHA-1 over namespace bytes (network order) and the name, then version 5 and the variant.
        Span<byte> input = stackalloc byte[16 + Encoding.UTF8.GetByteCount(nameLabel)];
        Namespace.TryWriteBytes(input[..16], bigEndian: true, out _);
        Encoding.UTF8.GetBytes(nameLabel, input[16..]);
#pragma warning disable CA5350 // not for security: RFC 4122 defines version 5 UUIDs with SHA-1
        var hash = SHA1.HashData(input);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    /// <summary>The image id of a template VM record.</summary>
    public static Guid IdOf(XapiVm template) =>
        template.OtherConfig.TryGetValue(ImageIdKey, out var pinned) && Guid.TryParseExact(pinned, "D", out var id) ? id : IdForName(template.NameLabel);

    /// <summary>A template that can be an image (snapshots are templates too, but not images).</summary>
    public static bool IsImage(XapiVm vm) => vm.IsATemplate && !vm.IsASnapshot && !vm.IsControlDomain
                                             && !vm.NameLabel.StartsWith(XapiDriver.BuildNamePrefix, StringComparison.Ordinal); // not a server being built

    /// <summary>Every image of the pools that answer; a pool that does not answer is left out (logged).</summary>
    public async Task<IReadOnlyList<TemplateImage>> ListAsync(CancellationToken ct)
    {
        var found = new Dictionary<Guid, (XapiVm Template, List<string> Hosts)>();
        foreach (var pool in await pools.TopologiesAsync(ct))
        {
            try
            {
                var session = await pool.Connection.SessionAsync(ct);
                foreach (var template in (await session.VmsAsync(ct)).Values.Where(IsImage).OrderBy(v => v.Uuid, StringComparer.Ordinal))
                {
                    var id = IdOf(template);
                    if (!found.TryGetValue(id, out var entry)) found[id] = entry = (template, []);
                    foreach (var member in pool.Members.Where(m => !entry.Hosts.Contains(m.ComputeName))) entry.Hosts.Add(member.ComputeName);
                }
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or HttpRequestException)
            {
                LogHostSkipped(logger, pool.Connection.Endpoint.Name, e.Message);
            }
        }

        return found.Select(p => new TemplateImage(p.Key, p.Value.Template.NameLabel,
                XapiValues.String(p.Value.Template.Record["name_description"]),
                XapiValues.Int(p.Value.Template.Record["memory_static_min"]) / (1024 * 1024), p.Value.Hosts))
            .OrderBy(i => i.Name, StringComparer.Ordinal).ThenBy(i => i.Id).ToList();
    }

    public async Task<TemplateImage?> FindAsync(Guid id, CancellationToken ct) => (await ListAsync(ct)).FirstOrDefault(i => i.Id == id);

    /// <summary>The template behind an image in one pool, or null when that pool has none.</summary>
    public static async Task<XapiVm?> TemplateOnPoolAsync(XapiSession session, Guid imageId, CancellationToken ct) =>
        (await session.VmsAsync(ct)).Values.Where(IsImage).OrderBy(v => v.Uuid, StringComparer.Ordinal).FirstOrDefault(v => IdOf(v) == imageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Images: pool {Host} left out of the list ({Reason})")]
    private static partial void LogHostSkipped(ILogger logger, string host, string reason);
}
