using FluentValidation;
using Hangfire;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Routing;
using XenMigrate.Api.Admin;
using XenMigrate.Api.Glance;
using XenMigrate.Api.Identity;
using XenMigrate.Api.Nova;
using XenMigrate.Api.Nova.Aggregates;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Flavors;
using XenMigrate.Api.Nova.AvailabilityZones;
using XenMigrate.Api.Nova.Images;
using XenMigrate.Api.Nova.Usage;
using XenMigrate.Api.Nova.KeyPairs;
using XenMigrate.Api.Nova.Hypervisors;
using XenMigrate.Api.Nova.Hosts;
using XenMigrate.Api.Nova.Extensions;
using XenMigrate.Api.Nova.InstanceActions;
using XenMigrate.Api.Nova.Limits;
using XenMigrate.Api.Nova.Microversions;
using XenMigrate.Api.Nova.Migrations;
using XenMigrate.Api.Nova.Quotas;
using XenMigrate.Api.Nova.RateLimiting;
using XenMigrate.Api.Nova.ServerGroups;
using XenMigrate.Api.Nova.Servers;
using XenMigrate.Api.Nova.Services;
using XenMigrate.Api.Nova.Versions;
using XenMigrate.Api.OpenApi;
using XenMigrate.Infrastructure;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// Composes the gateway: services, database start-up, middleware and routes. Program.cs runs it;
/// tests build real instances of it on loopback with their own configuration.
/// </summary>
public static class Gateway
{
    public const string DefaultUrl = "http://127.0.0.1:8774";

    /// <summary>Builds the app and brings its database up to date (migrating where configured) and seeded.</summary>
    public static async Task<WebApplication> BuildAsync(string[] args, Action<IServiceCollection>? configureServices = null,
        bool migrateOnly = false)
    {
        var builder = WebApplication.CreateBuilder(args);

        // The embedded default listens on Nova's port, on loopback only, unless told otherwise.
        var urls = ConfiguredUrls(builder.Configuration);
        if (urls.Count == 0)
        {
            builder.WebHost.UseUrls(DefaultUrl);
            urls = [DefaultUrl];
        }

        LoopbackGuard.EnsureDemoCredentialsStayLocal(builder.Configuration, urls);

        // With no XenServer hosts configured, the embedded default runs a simulated lab in-process.
        var xen = builder.Configuration.GetSection(XenServerOptions.Section).Get<XenServerOptions>() ?? new XenServerOptions();
        // The lab lives in this process's memory, so only a process that is both API and worker may run it.
        var role = builder.Configuration.GetSection(GatewayRoleOptions.Section).Get<GatewayRoleOptions>() ?? new GatewayRoleOptions();
        EmbeddedLab? lab = null;
        if (!migrateOnly && xen.Hosts.Count == 0 && xen.EmbeddedLab && role.Role == ProcessRole.All)
        {
            lab = await EmbeddedLab.StartAsync(CancellationToken.None);
            builder.Services.AddSingleton<IXenServerHostSource>(_ => lab); // created by a factory: disposed with the app
            // The lab's VMs are all the gateway's to manage (real pools default to tagged VMs only).
            if (builder.Configuration[$"{XenServerOptions.Section}:{nameof(XenServerOptions.AdoptVms)}"] is null)
                builder.Configuration.AddInMemoryCollection([KeyValuePair.Create<string, string?>($"{XenServerOptions.Section}:{nameof(XenServerOptions.AdoptVms)}", nameof(AdoptVms.All))]);
        }

        builder.Services.AddXenMigrateInfrastructure(builder.Configuration, builder.Environment.ContentRootPath);
        builder.Services.AddXenMigrateHealthChecks();
        builder.AddXenMigrateObservability();
        builder.Services.AddAuthentication(KeystoneAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, KeystoneAuthenticationHandler>(KeystoneAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddXenMigrateRateLimiting(builder.Configuration);
        builder.Services.AddXenMigrateOpenApi();
        builder.Services.AddValidatorsFromAssemblyContaining<ResizeRequestValidator>(ServiceLifetime.Singleton);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        await InitializeDatabaseAsync(app, migrateOnly);
        if (!migrateOnly) MapPipeline(app, lab);
        return app;
    }

    private static async Task InitializeDatabaseAsync(WebApplication app, bool forceMigrate)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var database = scope.ServiceProvider.GetRequiredService<DatabaseOptions>();
        var initializer = scope.ServiceProvider.GetRequiredService<DatabaseInitializer>();
        if (forceMigrate || database.ShouldMigrateOnStartup) await initializer.MigrateAsync(CancellationToken.None);
        await initializer.SeedAsync(CancellationToken.None);
    }

    private static void MapPipeline(WebApplication app, EmbeddedLab? lab)
    {
        var role = app.Services.GetRequiredService<GatewayRoleOptions>();
        app.MapXenMigrateHealth();
        app.MapXenMigrateMetrics();
        if (!role.ServesApi) return; // a worker answers health checks and metrics only

        app.UseNovaRequestIds(); // first: the fault handler's log lines carry the request id too
        app.UseMiddleware<FaultMiddleware>();
        app.UseMiddleware<MicroversionMiddleware>();
        app.UseRouting();
        app.UseAuthentication();
        app.UseXenMigrateRateLimiting();
        app.UseAuthorization();

        app.MapVersions();
        app.MapKeystone();
        app.MapImages();
        foreach (var prefix in new[] { "/v2.1", "/v2.1/{project_id}" })
        {
            var compute = app.MapGroup(prefix).RequireAuthorization();
            if (prefix.Contains('{', StringComparison.Ordinal)) compute.ExcludeFromDescription(); // the same routes, project-prefixed
            compute.MapServers();
            compute.MapServerLifecycle();
            compute.MapServerUpdate();
            compute.MapServerPassword();
            compute.MapServerTags();
            compute.MapServerDiagnostics();
            compute.MapServerExternalEvents();
            compute.MapQuotaSets();
            compute.MapQuotaClassSets();
            compute.MapLimits();
            compute.MapServerActions();
            compute.MapMigrations();
            compute.MapLiveMigrationControl();
            compute.MapInstanceActions();
            compute.MapFlavors();
            compute.MapImagesProxy();
            compute.MapKeyPairs();
            compute.MapServerGroups();
            compute.MapAvailabilityZones();
            compute.MapSimpleTenantUsage();
            compute.MapInstanceUsageAuditLog();
            compute.MapServices();
            compute.MapAggregates();
            compute.MapHypervisors();
            compute.MapHosts();
            compute.MapExtensions();
        }

        app.MapHostDrains();
        app.MapBenchStaticEndpointIfEnabled();

        app.UseXenMigrateSwaggerUi();
        app.MapHangfireDashboard();
        StartupBanner.PrintWhenListening(app, app.Services.GetRequiredService<DatabaseOptions>().Provider.ToString(), lab?.Describe());
    }

    private static List<string> ConfiguredUrls(IConfiguration configuration)
    {
        var urls = (configuration["urls"] ?? string.Empty)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren()
            .Select(e => e["Url"]).Where(u => !string.IsNullOrWhiteSpace(u)).Select(u => u!));
        return urls;
    }
}
