using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace XenMigrate.Infrastructure.Identity;

/// <summary>
/// Keystonemiddleware's token cache: a token validated once is trusted for
/// <see cref="KeystoneOptions.TokenCacheTime"/> without asking the database again, which is most of
/// what a read request would otherwise cost. An identity change saved through this process (user,
/// project or role assignment; see <see cref="IdentityChangeInterceptor"/>) empties it at once, so a
/// revoked role fails the next request here and, in other processes sharing the database, within
/// the cache time.
/// </summary>
public sealed class TokenValidationCache(IOptions<KeystoneOptions> options, TimeProvider time) : IDisposable
{
    /// <summary>Bounds the memory many short-lived tokens could take (one unit per token).</summary>
    private const int MaxEntries = 10_000;

    private readonly MemoryCache _entries = new(new MemoryCacheOptions { SizeLimit = MaxEntries });
    private long _generation;

    private sealed record Entry(AuthenticatedCaller Caller, DateTimeOffset TrustedUntil);

    /// <summary>The caller this token was validated as, while that answer may still be trusted.</summary>
    public AuthenticatedCaller? Find(string token)
    {
        if (!_entries.TryGetValue(token, out Entry? entry) || entry is null) return null;
        // Trust ends at the cache time or the token's expiry, whichever is first, on the service's clock.
        return time.GetUtcNow() < entry.TrustedUntil ? entry.Caller : null;
    }

    /// <summary>
    /// Taken before reading the database: an answer read while an identity change was being saved
    /// belongs to the old generation and is not remembered.
    /// </summary>
    public long Generation => Interlocked.Read(ref _generation);

    public void Remember(string token, AuthenticatedCaller caller, long readInGeneration)
    {
        var cacheTime = options.Value.TokenCacheTime;
        if (cacheTime <= TimeSpan.Zero || readInGeneration != Generation) return;
        var expires = new DateTimeOffset(caller.Token.ExpiresAt, TimeSpan.Zero);
        var until = time.GetUtcNow() + cacheTime;
        if (expires < until) until = expires;
        _entries.Set(token, new Entry(caller, until), new MemoryCacheEntryOptions
        {
            Size = 1,
            AbsoluteExpirationRelativeToNow = cacheTime, // eviction only; trust is checked in Find
        });
    }

    /// <summary>Forgets every validation: an identity row changed.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    public void Dispose() => _entries.Dispose();
}
