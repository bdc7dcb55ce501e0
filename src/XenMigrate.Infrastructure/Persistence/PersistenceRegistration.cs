using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Persistence.Providers;

namespace XenMigrate.Infrastructure.Persistence;

public static class PersistenceRegistration
{
    /// <summary>
    /// Registers the provider-specific context chosen by <see cref="DatabaseOptions.Provider"/> and
    /// exposes it as <see cref="XenMigrateDbContext"/>, which is all the rest of the code asks for.
    /// </summary>
    public static IServiceCollection AddXenMigrateDatabase(this IServiceCollection services, DatabaseOptions options, string contentRoot)
    {
        var connectionString = ResolveConnectionString(options, contentRoot);
        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                services.AddDbContext<SqliteXenMigrateDbContext>(o => o.UseSqlite(connectionString));
                services.AddScoped<XenMigrateDbContext>(sp => sp.GetRequiredService<SqliteXenMigrateDbContext>());
                break;
            case DatabaseProvider.PostgreSql:
                services.AddDbContext<PostgreSqlXenMigrateDbContext>(o => o.UseNpgsql(connectionString));
                services.AddScoped<XenMigrateDbContext>(sp => sp.GetRequiredService<PostgreSqlXenMigrateDbContext>());
                break;
            case DatabaseProvider.SqlServer:
                services.AddDbContext<SqlServerXenMigrateDbContext>(o => o.UseSqlServer(connectionString));
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
