using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Images;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// What a new user needs on the console once the gateway listens: where it is, the demo users
/// and their passwords, and a clouds.yaml that points the openstack CLI at it.
/// </summary>
public static class StartupBanner
{
    public static string Render(string baseUrl, IEnumerable<ConfiguredUser> demoUsers, string databaseDescription,
        IEnumerable<string>? labHosts = null, IEnumerable<TemplateImage>? images = null)
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

        var imageList = images?.ToList() ?? [];
        if (imageList.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Images (XenServer templates; the id is the same on every host and every start):");
            foreach (var image in imageList) text.AppendLine($"  {image.Id}  {image.Name}");
            text.AppendLine($"  e.g. openstack server create --image {imageList[0].Id} --flavor m1.tiny vm9 --wait");
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

    /// <summary>The images the hosts offer now (a host slow to answer delays the banner by at most a few seconds).</summary>
    private static async Task<IReadOnlyList<TemplateImage>> ImagesAsync(WebApplication app)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            return await app.Services.GetRequiredService<TemplateImages>().ListAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return [];
        }
    }

    public static void PrintWhenListening(WebApplication app, string databaseDescription, IEnumerable<string>? labHosts)
    {
        app.Lifetime.ApplicationStarted.Register(() => _ = Task.Run(async () =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            var baseUrl = addresses?.FirstOrDefault()?.TrimEnd('/') ?? "http://127.0.0.1:8774";
            var options = app.Configuration.GetSection(KeystoneOptions.Section).Get<KeystoneOptions>() ?? new KeystoneOptions();
            Console.WriteLine(Render(baseUrl, options.Users.Where(DemoCredentials.IsDemo), databaseDescription, labHosts, await ImagesAsync(app)));
        }));
    }
}
