using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Persistence.Providers;
using XenMigrate.Infrastructure.Persistence.ReadCache;

namespace XenMigrate.Infrastructure.Persistence;

public static class PersistenceRegistration
{
    /// <summary>
    /// Registers the provider-specific context chosen by <see cref="DatabaseOptions.Provider"/> and
    /// exposes it as <see cref="XenMigrateDbContext"/>, which is all the rest of the code asks for.
    /// Contexts are pooled: building options and a context per request cost a read request a third
    /// of its time (bench/README.md, API).
    /// </summary>
    public static IServiceCollection AddXenMigrateDatabase(this IServiceCollection services, DatabaseOptions options, string contentRoot)
    {
        var connectionString = ResolveConnectionString(options, contentRoot);
        services.AddSingleton<IdentityChangeInterceptor>();
        services.AddSingleton(_ => new DatabaseChangeStamp(options, connectionString));
        services.AddSingleton<ServerReadCache>();
        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                services.AddDbContextPool<SqliteXenMigrateDbContext>((sp, o) => o.UseSqlite(connectionString).AddInterceptors(sp.GetRequiredService<IdentityChangeInterceptor>()));
                services.AddScoped<XenMigrateDbContext>(sp => sp.GetRequiredService<SqliteXenMigrateDbContext>());
                break;
            case DatabaseProvider.PostgreSql:
                services.AddDbContextPool<PostgreSqlXenMigrateDbContext>((sp, o) => o.UseNpgsql(connectionString).AddInterceptors(sp.GetRequiredService<IdentityChangeInterceptor>()));
                services.AddScoped<XenMigrateDbContext>(sp => sp.GetRequiredService<PostgreSqlXenMigrateDbContext>());
                break;
            case DatabaseProvider.SqlServer:
                services.AddDbContextPool<SqlServerXenMigrateDbContext>((sp, o) => o.UseSqlServer(connectionString).AddInterceptors(sp.GetRequiredService<IdentityChangeInterceptor>()));
                services.AddScoped<XenMigrateDbContext>(sp => sp.GetRequiredService<SqlServerXenMigrateDbContext>());
                break;
            default:
                throw new InvalidOperationException($"Unknown Database:Provider '{options.Provider}'.");
        }

        return services;
    }

    public static string ResolveConnectionString(DatabaseOptions options, string contentRoot)
    {
        if (!string.IsNullOrWhiteSpace(options.ConnectionString)) return options.ConnectionString;
        if (options.Provider != DatabaseProvider.Sqlite)
            throw new InvalidOperationException($"Database:ConnectionString is required for the {options.Provider} provider.");

        var dataDirectory = Path.GetFullPath(options.DataDirectory, contentRoot);
        Directory.CreateDirectory(dataDirectory);
        return $"Data Source={Path.Combine(dataDirectory, "xenmigrate.db")}";
    }
}
