using Microsoft.AspNetCore.Authentication;
using XenMigrate.Api.Glance;
using XenMigrate.Api.Hosting;
using XenMigrate.Api.Identity;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova;
using XenMigrate.Api.Nova.Flavors;
using XenMigrate.Api.Nova.Microversions;
using XenMigrate.Api.Nova.Servers;
using XenMigrate.Api.Nova.Versions;
using XenMigrate.Api.OpenApi;
using XenMigrate.Infrastructure;
using XenMigrate.Infrastructure.Persistence;

var builder = WebApplication.CreateBuilder(args);

// The embedded default listens on Nova's port, on loopback only, unless told otherwise.
var configuredUrls = ConfiguredUrls(builder.Configuration);
if (configuredUrls.Count == 0)
{
    builder.WebHost.UseUrls("http://127.0.0.1:8774");
    configuredUrls = ["http://127.0.0.1:8774"];
}

LoopbackGuard.EnsureDemoCredentialsStayLocal(builder.Configuration, configuredUrls);

builder.Services.AddXenMigrateInfrastructure(builder.Configuration, builder.Environment.ContentRootPath);
builder.Services.AddAuthentication(KeystoneAuthenticationHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, KeystoneAuthenticationHandler>(KeystoneAuthenticationHandler.SchemeName, null);
builder.Services.AddAuthorization();
builder.Services.AddXenMigrateOpenApi();

var app = builder.Build();

// `XenMigrate.Api migrate`: bring a shared database up to date, seed it, and exit (run before a roll-out).
var migrateOnly = args.Contains("migrate", StringComparer.Ordinal);
await using (var scope = app.Services.CreateAsyncScope())
{
    var database = scope.ServiceProvider.GetRequiredService<DatabaseOptions>();
    var initializer = scope.ServiceProvider.GetRequiredService<DatabaseInitializer>();
    if (migrateOnly || database.ShouldMigrateOnStartup) await initializer.MigrateAsync(CancellationToken.None);
    await initializer.SeedAsync(CancellationToken.None);
}

if (migrateOnly)
{
    Console.WriteLine("Database is up to date.");
    return;
}

app.UseMiddleware<FaultMiddleware>();
app.UseNovaRequestIds();
app.UseMiddleware<MicroversionMiddleware>();
app.UseRouting();
app.UseAuthentication();
app.UseAuthorization();

app.MapVersions();
app.MapKeystone();
app.MapImages();
foreach (var prefix in new[] { "/v2.1", "/v2.1/{project_id}" })
{
    var compute = app.MapGroup(prefix).RequireAuthorization();
    if (prefix.Contains('{', StringComparison.Ordinal)) compute.ExcludeFromDescription(); // the same routes, project-prefixed
    compute.MapServers();
    compute.MapFlavors();
}

app.UseXenMigrateSwaggerUi();

var databaseOptions = app.Services.GetRequiredService<DatabaseOptions>();
StartupBanner.PrintWhenListening(app, databaseOptions.Provider.ToString());
await app.RunAsync();

static List<string> ConfiguredUrls(IConfiguration configuration)
{
    var urls = (configuration["urls"] ?? string.Empty)
        .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren()
        .Select(e => e["Url"]).Where(u => !string.IsNullOrWhiteSpace(u)).Select(u => u!));
    return urls;
}

/// <summary>Entry point type, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
