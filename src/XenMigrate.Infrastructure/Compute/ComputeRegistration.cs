using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.SqlServer;
using Hangfire.Storage.SQLite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Compute.Lifecycle;
using XenMigrate.Infrastructure.Compute.LiveMigration;
using XenMigrate.Infrastructure.Compute.Power;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Infrastructure.Drains;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Transfer;

namespace XenMigrate.Infrastructure.Compute;

public static class ComputeRegistration
{
    /// <summary>
    /// Hangfire on the gateway's own database server (SQLite: a file beside the gateway's; PostgreSQL
    /// and SQL Server: the same database, Hangfire's own schema), the worker when this process has
    /// that role, and the workflow services.
    /// </summary>
    public static IServiceCollection AddComputeWorkflows(this IServiceCollection services, IConfiguration configuration,
        DatabaseOptions database, string connectionString, GatewayRoleOptions role)
    {
        var options = configuration.GetSection(WorkflowOptions.Section).Get<WorkflowOptions>() ?? new WorkflowOptions();
        services.AddOptions<WorkflowOptions>().Bind(configuration.GetSection(WorkflowOptions.Section));

        var storage = CreateStorage(database.Provider, connectionString, options);
        services.AddSingleton(storage);
        services.AddHangfire((provider, c) => c
            .UseLogProvider(new HangfireLogBridge(provider.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>()))
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseStorage(storage));
        if (role.RunsWorker)
        {
            services.AddHangfireServer((_, server) =>
            {
                server.WorkerCount = options.WorkerCount;
                server.SchedulePollingInterval = TimeSpan.FromSeconds(1);
                // A dead server's record goes after a minute (its jobs come back through the invisibility timeout).
                server.HeartbeatInterval = TimeSpan.FromSeconds(10);
                server.ServerCheckInterval = TimeSpan.FromSeconds(15);
                server.ServerTimeout = TimeSpan.FromMinutes(1);
            }, storage);
        }

        services.AddSingleton(new WorkerLocks(database, connectionString));
        services.AddHostedService<ReconcilerSchedule>();
        services.AddOptions<HostDrainOptions>().Bind(configuration.GetSection(HostDrainOptions.Section));
        services.AddScoped<HostDrainCoordinator>();
        if (role.RunsWorker)
        {
            services.AddHostedService<HostDrainService>();
            services.AddHostedService<ResizeAutoConfirmer>();
        }

        // The application seam the API calls (Nova's compute/api.py), with the starters it records through.
        services.AddScoped<ComputeApi>();
        services.AddScoped<ConflictRetry>();
        services.AddScoped<DestinationScheduler>();
        services.AddScoped<StepJournal>();
        services.AddScoped<MigrationProgressRecorder>();
        services.AddScoped<ResizeWorkflow>();
        services.AddScoped<MigrationStarter>();
        services.AddScoped<StalledWorkReconciler>();
        services.AddTransient<ResizeJobs>();
        services.AddScoped<ServerLifecycleWorkflow>();
        services.AddScoped<ServerStarter>();
        services.AddTransient<ServerJobs>();
        services.AddSingleton<Images.TemplateImages>();
        services.AddScoped<Quotas.QuotaService>();
        services.AddOptions<Quotas.QuotaOptions>().Bind(configuration.GetSection(Quotas.QuotaOptions.Section));
        services.AddScoped<PowerWorkflow>();
        services.AddScoped<PowerActionStarter>();
        services.AddTransient<PowerJobs>();
        services.AddScoped<LiveMigrationWorkflow>();
        services.AddScoped<LiveMigrationStarter>();
        services.AddTransient<LiveMigrationJobs>();
        services.AddSingleton<XenServer.XenServerPools>();
        services.AddSingleton<XenServer.IHypervisorDriver, XenServer.XapiDriver>();
        services.AddSingleton(sp => new VdiTransfer(logger: sp.GetService<Microsoft.Extensions.Logging.ILogger<VdiTransfer>>()));
        return services;
    }

    private static JobStorage CreateStorage(DatabaseProvider provider, string connectionString, WorkflowOptions options) => provider switch
    {
        DatabaseProvider.Sqlite => new SQLiteStorage(SqliteHangfirePath(connectionString), new SQLiteStorageOptions
        {
            QueuePollInterval = options.QueuePollInterval,
            // Not sliding: a shorter timeout would deliver every long disk copy again and again. SQLite
            // is one machine, so a killed process's step is resumed by the reconciler, not redelivery.
            InvisibilityTimeout = options.TransferTimeout,
            DistributedLockLifetime = TimeSpan.FromSeconds(30),
        }),
        DatabaseProvider.PostgreSql => PostgreSql(connectionString, new PostgreSqlStorageOptions
            {
                QueuePollInterval = options.QueuePollInterval,
                InvisibilityTimeout = options.InvisibilityTimeout,
                UseSlidingInvisibilityTimeout = true, // a heartbeat keeps a running job invisible; a dead worker's returns
                // Hangfire's own locks are held for milliseconds; one left by a killed process is
                // taken as dead after this long (ours are in WorkerLocks and die with their holder).
                DistributedLockTimeout = TimeSpan.FromSeconds(10),
                PrepareSchemaIfNecessary = true,
            }),
        DatabaseProvider.SqlServer => new SqlServerStorage(connectionString, new SqlServerStorageOptions
        {
            QueuePollInterval = options.QueuePollInterval,
            SlidingInvisibilityTimeout = options.InvisibilityTimeout,
            PrepareSchemaIfNecessary = true,
        }),
        _ => throw new InvalidOperationException($"Unknown provider {provider}."),
    };

    private static PostgreSqlStorage PostgreSql(string connectionString, PostgreSqlStorageOptions options) =>
        new(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(connectionString, options, null), options);

    /// <summary>Hangfire's SQLite file sits beside the gateway's (two writers on one file would contend for its lock).</summary>
    private static string SqliteHangfirePath(string connectionString)
    {
        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString);
        return Path.ChangeExtension(builder.DataSource, ".hangfire.db");
    }
}
