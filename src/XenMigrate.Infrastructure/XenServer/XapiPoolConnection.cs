using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

/// <summary>
/// One configured XAPI endpoint — a standalone host or any member of a pool — and the single
/// logged-in session the gateway keeps on its master. Every step, inventory pass and usage read
/// borrows that session (xapi serializes logins, so a busy gateway must not log in per call); it
/// logs in again on SESSION_INVALID (in <see cref="XapiSession"/>). A login on a member answers
/// HOST_IS_SLAVE [master address], which is followed; when the master stops answering, the other
/// known members are asked until one answers as master (a fail-over) — with no restart.
/// </summary>
public sealed class XapiPoolConnection : IAsyncDisposable
{
    private const int MaxHops = 4;

    private readonly TimeSpan _callTimeout;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _sync = new();
    private readonly List<string> _memberAddresses = [];
    private XapiSession? _session;
    private Uri _master;
    private string? _expectedMasterAddress;

    public XapiPoolConnection(XapiHostOptions endpoint, TimeSpan callTimeout)
    {
        Endpoint = endpoint;
        _callTimeout = callTimeout;
        _master = new Uri(endpoint.Url.TrimEnd('/') + "/");
        _http = new HttpClient(XapiHttp.CreateHandler(endpoint)) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>What the operator configured: name, URL of any member, credentials, pinned certificate.</summary>
    public XapiHostOptions Endpoint { get; }

    /// <summary>The master's base URL as last found.</summary>
    public Uri MasterUrl
    {
        get
        {
            lock (_sync) return _master;
        }
    }

    /// <summary>The base URL of a member by its address: the configured scheme and port, as real members share them.</summary>
    public Uri UrlFor(string address)
    {
        var builder = new UriBuilder(new Uri(Endpoint.Url)) { Host = address, Path = "/" };
        return builder.Uri;
    }

    /// <summary>
    /// The pool's session, logging in (and finding the master) when there is none or the last one
    /// could not reach its host. Never dispose what this returns: it is shared.
    /// </summary>
    public async Task<XapiSession> SessionAsync(CancellationToken ct)
    {
        if (Current() is { } current) return current;
        await _gate.WaitAsync(ct);
        try
        {
            if (Current() is { } again) return again;
            XapiSession? old;
            lock (_sync) old = _session;
            var session = await DiscoverAsync(ct);
            session.Shared = true;
            lock (_sync)
            {
                _session = session;
                _master = session.BaseUri;
            }

            if (old is not null) await CloseQuietlyAsync(old);
            return session;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// What the inventory learned of the pool: its members' addresses (where to look after a
    /// fail-over) and which one is master now (after an orderly hand-over the old master still
    /// answers, as a member; the next borrower moves to the new one).
    /// </summary>
    public void Observe(IEnumerable<string> memberAddresses, string masterAddress)
    {
        lock (_sync)
        {
            _memberAddresses.Clear();
            _memberAddresses.AddRange(memberAddresses.Where(a => a.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase));
            _expectedMasterAddress = masterAddress.Length > 0 ? masterAddress : null;
        }
    }

    private XapiSession? Current()
    {
        lock (_sync)
        {
            if (_session is not { Faulted: false } session) return null;
            if (_expectedMasterAddress is { } expected && !string.Equals(session.BaseUri.Host, expected, StringComparison.OrdinalIgnoreCase)) return null;
            return session;
        }
    }

    /// <summary>Tries the expected master, the last master, the configured URL, then every known member.</summary>
    private async Task<XapiSession> DiscoverAsync(CancellationToken ct)
    {
        List<Uri> candidates;
        lock (_sync)
        {
            candidates = new[] { _expectedMasterAddress is { } e ? UrlFor(e) : null, _master, new Uri(Endpoint.Url.TrimEnd('/') + "/") }
                .Concat(_memberAddresses.Select(UrlFor))
                .OfType<Uri>()
                .DistinctBy(u => u.AbsoluteUri, StringComparer.OrdinalIgnoreCase)
                .ToList();
        }

        Exception? last = null;
        foreach (var candidate in candidates)
        {
            try
            {
                return await LoginFollowingAsync(candidate, ct);
            }
            catch (Exception e) when (e is XapiTransportException or TimeoutException or XapiException { Code: XapiException.HostIsSlave })
            {
                last = e; // a dead or demoted member: ask the next one
            }
        }

        throw last ?? new XapiTransportException(Endpoint.Name, "No member of the pool answered.");
    }

    private async Task<XapiSession> LoginFollowingAsync(Uri url, CancellationToken ct)
    {
        for (var hop = 0; ; hop++)
        {
            try
            {
                return await XapiSession.OpenAsync(Endpoint, _callTimeout, ct, _http, url);
            }
            catch (XapiException e) when (e.Code == XapiException.HostIsSlave && e.Parameters.Count > 0 && hop < MaxHops)
            {
                url = UrlFor(e.Parameters[0]); // xapi_session.ml: a member names its master's address
            }
        }
    }

    private static async Task CloseQuietlyAsync(XapiSession session)
    {
        try
        {
            await session.CloseAsync();
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or OperationCanceledException)
        {
            // The old master is gone: nothing left to end.
        }
    }

    public async ValueTask DisposeAsync()
    {
        XapiSession? session;
        lock (_sync)
        {
            session = _session;
            _session = null;
        }

        if (session is not null) await CloseQuietlyAsync(session);
        _gate.Dispose();
        _http.Dispose();
    }
}
