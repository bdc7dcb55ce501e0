using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure;

public static class InfrastructureRegistration
{
    public static IServiceCollection AddXenMigrateInfrastructure(this IServiceCollection services, IConfiguration configuration, string contentRoot)
    {
        var database = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        services.AddSingleton(database);
        services.AddXenMigrateDatabase(database, contentRoot);
        services.AddScoped<DatabaseInitializer>();

        services.AddOptions<KeystoneOptions>().Bind(configuration.GetSection(KeystoneOptions.Section));
        services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        services.AddSingleton<TokenKeyProvider>();
        services.AddScoped<KeystoneIdentityService>();
        services.AddScoped<IdentitySeeder>();

        services.AddSingleton(TimeProvider.System);
        return services;
    }
}
