using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>Opens XAPI sessions on hosts by their compute host name (the configured or lab hosts).</summary>
public sealed class XenServerHosts(IXenServerHostSource source, IOptions<XenServerOptions> options)
{
    public async Task<XapiHostOptions> FindAsync(string name, CancellationToken ct) =>
        (await source.GetHostsAsync(ct)).FirstOrDefault(h => h.Name == name)
        ?? throw new InvalidOperationException($"Host {name} is not configured.");

    public async Task<IReadOnlyList<XapiHostOptions>> AllAsync(CancellationToken ct) => await source.GetHostsAsync(ct);

    public async Task<XapiSession> OpenAsync(string name, CancellationToken ct) =>
        await XapiSession.OpenAsync(await FindAsync(name, ct), options.Value.CallTimeout, ct);
}
