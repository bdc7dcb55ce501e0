using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// What a new user needs on the console once the gateway listens: where it is, the demo users
/// and their passwords, and a clouds.yaml that points the openstack CLI at it.
/// </summary>
public static class StartupBanner
{
    public static string Render(string baseUrl, IEnumerable<ConfiguredUser> demoUsers, string databaseDescription,
        IEnumerable<string>? labHosts = null)
    {
        var users = demoUsers.ToList();
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("XenMigrate gateway is up.");
        text.AppendLine($"  Compute API (Nova v2.1):  {baseUrl}/v2.1");
        text.AppendLine($"  Identity (Keystone v3):   {baseUrl}/identity/v3");
        text.AppendLine($"  Swagger UI:               {baseUrl}/swagger");
        text.AppendLine($"  Database:                 {databaseDescription}");
        if (labHosts is not null)
        {
            text.AppendLine();
            text.AppendLine("Simulated XenServer lab (XAPI JSON-RPC, loopback only):");
            foreach (var line in labHosts) text.AppendLine(line);
        }

        if (users.Count == 0) return text.ToString();

        text.AppendLine();
        text.AppendLine("Demo users (loopback only; set Identity:Users to replace them):");
        foreach (var user in users)
        {
            var roles = string.Join(", ", user.Roles.Select(r => $"{r.Role} of project {r.Project}"));
            text.AppendLine($"  {user.Name,-8} password {user.Password,-22} {roles}");
        }

        text.AppendLine();
        text.AppendLine("clouds.yaml (save as ~/.config/openstack/clouds.yaml, then: openstack --os-cloud xenmigrate-admin server list):");
        text.AppendLine("clouds:");
        foreach (var user in users)
        {
            var project = user.Roles.FirstOrDefault()?.Project ?? user.Name;
            text.AppendLine($"  xenmigrate-{user.Name}:");
            text.AppendLine("    auth:");
            text.AppendLine($"      auth_url: {baseUrl}/identity/v3");
            text.AppendLine($"      username: {user.Name}");
            text.AppendLine($"      password: {user.Password}");
            text.AppendLine($"      project_name: {project}");
            text.AppendLine("      user_domain_name: Default");
            text.AppendLine("      project_domain_name: Default");
            text.AppendLine("    region_name: RegionOne");
            text.AppendLine("    identity_api_version: 3");
        }

        return text.ToString();
    }

    public static void PrintWhenListening(WebApplication app, string databaseDescription, IEnumerable<string>? labHosts)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            var baseUrl = addresses?.FirstOrDefault()?.TrimEnd('/') ?? "http://127.0.0.1:8774";
            var options = app.Configuration.GetSection(KeystoneOptions.Section).Get<KeystoneOptions>() ?? new KeystoneOptions();
            Console.WriteLine(Render(baseUrl, options.Users.Where(DemoCredentials.IsDemo), databaseDescription, labHosts));
        });
    }
}
