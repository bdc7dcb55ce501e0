using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Identity;

/// <summary>
/// Supplies the token key: from configuration when set, else the one row in the database
/// (created by whichever process needs it first), so every process and every restart agrees.
/// </summary>
public sealed class TokenKeyProvider(IServiceScopeFactory scopes, IOptions<KeystoneOptions> options, TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TokenSealer? _sealer;

    public async ValueTask<TokenSealer> GetSealerAsync(CancellationToken ct)
    {
        if (_sealer is not null) return _sealer;
        await _gate.WaitAsync(ct);
        try
        {
            return _sealer ??= new TokenSealer(await LoadKeyAsync(ct));
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private async Task<byte[]> LoadKeyAsync(CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(options.Value.TokenSigningKey))
            return TokenSealer.KeyFromSecret(options.Value.TokenSigningKey);

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var stored = await db.TokenSigningKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == TokenSigningKey.SingletonId, ct);
        if (stored is not null) return stored.Key;

        db.TokenSigningKeys.Add(new TokenSigningKey { Key = TokenSealer.NewRandomKey(), CreatedAt = time.GetUtcNow().UtcDateTime });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another process stored its key first; everyone uses that one.
        }

        db.ChangeTracker.Clear();
        return (await db.TokenSigningKeys.AsNoTracking().SingleAsync(k => k.Id == TokenSigningKey.SingletonId, ct)).Key;
    }
}
