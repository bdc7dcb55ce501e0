using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using XenMigrate.Domain.Identity;

namespace XenMigrate.Infrastructure.Identity;

/// <summary>
/// Empties the <see cref="TokenValidationCache"/> once a save has added, changed or removed a user,
/// a project, a role assignment or a token revocation, so no cached validation outlives the change in this process.
/// </summary>
public sealed class IdentityChangeInterceptor(TokenValidationCache cache) : SaveChangesInterceptor
{
    // Contexts whose save in progress touches identity rows (seen before the save, when the
    // change tracker still says what changes; acted on after it, when the change is stored).
    private readonly ConditionalWeakTable<DbContext, object> _saving = [];

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        NoteIdentityChanges(eventData.Context);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        NoteIdentityChanges(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        ForgetIfNoted(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        ForgetIfNoted(eventData.Context);
        return ValueTask.FromResult(result);
    }

    // A failed save may still have written part of its rows on a provider without transactions.
    public override void SaveChangesFailed(DbContextErrorEventData eventData) => ForgetIfNoted(eventData.Context);

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        ForgetIfNoted(eventData.Context);
        return Task.CompletedTask;
    }

    private void NoteIdentityChanges(DbContext? context)
    {
        if (context is not null && context.ChangeTracker.Entries().Any(e =>
                e.State is EntityState.Added or EntityState.Modified or EntityState.Deleted
                && e.Entity is User or Project or RoleAssignment or RevokedToken))
            _saving.AddOrUpdate(context, context);
    }

    private void ForgetIfNoted(DbContext? context)
    {
        if (context is not null && _saving.Remove(context)) cache.Clear();
    }
}
