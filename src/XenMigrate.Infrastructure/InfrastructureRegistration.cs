using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Compute;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure;

public static class InfrastructureRegistration
{
    public static IServiceCollection AddXenMigrateInfrastructure(this IServiceCollection services, IConfiguration configuration, string contentRoot)
    {
        var database = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var role = configuration.GetSection(GatewayRoleOptions.Section).Get<GatewayRoleOptions>() ?? new GatewayRoleOptions();
        services.AddSingleton(database);
        services.AddSingleton(role);
        services.AddXenMigrateDatabase(database, contentRoot);
        services.AddComputeWorkflows(configuration, database, PersistenceRegistration.ResolveConnectionString(database, contentRoot), role);
        services.AddNotifications(configuration, role);
        services.AddScoped<DatabaseInitializer>();

        services.AddOptions<KeystoneOptions>().Bind(configuration.GetSection(KeystoneOptions.Section));
        services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        services.AddSingleton<TokenKeyProvider>();
        services.AddSingleton<TokenValidationCache>();
        services.AddScoped<KeystoneIdentityService>();
        services.AddScoped<IdentitySeeder>();

        services.AddOptions<XenServerOptions>().Bind(configuration.GetSection(XenServerOptions.Section));
        services.AddScoped<HostInventorySync>();
        services.AddScoped<HypervisorUsageReader>();
        services.TryAddSingleton<IXenServerHostSource, ConfiguredHostSource>();
        if (role.RunsWorker) services.AddHostedService<HostInventoryService>();

        services.TryAddSingleton(TimeProvider.System);
        return services;
    }
}
