using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace XenMigrate.Infrastructure.Persistence.Providers;

// One subclass per provider so each has its own migrations (Persistence/Migrations/<Provider>)
// and model snapshot. Generate with, e.g.:
//   dotnet ef migrations add <Name> --project src/XenMigrate.Infrastructure \
//     --context PostgreSqlXenMigrateDbContext --output-dir Persistence/Migrations/PostgreSql

public sealed class SqliteXenMigrateDbContext(DbContextOptions<SqliteXenMigrateDbContext> options)
    : XenMigrateDbContext(options);

public sealed class PostgreSqlXenMigrateDbContext(DbContextOptions<PostgreSqlXenMigrateDbContext> options)
    : XenMigrateDbContext(options);

public sealed class SqlServerXenMigrateDbContext(DbContextOptions<SqlServerXenMigrateDbContext> options)
    : XenMigrateDbContext(options);

// Design-time factories: `dotnet ef` builds the model without a running gateway or database.

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteXenMigrateDbContext>
{
    public SqliteXenMigrateDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteXenMigrateDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

internal sealed class PostgreSqlDesignTimeFactory : IDesignTimeDbContextFactory<PostgreSqlXenMigrateDbContext>
{
    public PostgreSqlXenMigrateDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgreSqlXenMigrateDbContext>().UseNpgsql("Host=localhost;Database=xenmigrate").Options);
}

internal sealed class SqlServerDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerXenMigrateDbContext>
{
    public SqlServerXenMigrateDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqlServerXenMigrateDbContext>().UseSqlServer("Server=localhost;Database=xenmigrate;TrustServerCertificate=true").Options);
}
