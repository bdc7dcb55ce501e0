using System.Net;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// Refuses to start with the shipped demo credentials on any address other than loopback: they are
/// printed on the console and published in the README, so they must never face a network.
/// </summary>
public static class LoopbackGuard
{
    public static void EnsureDemoCredentialsStayLocal(IConfiguration configuration, IEnumerable<string> urls)
    {
        var options = configuration.GetSection(KeystoneOptions.Section).Get<KeystoneOptions>() ?? new KeystoneOptions();
        var demoUsers = options.Users.Where(DemoCredentials.IsDemo).Select(u => u.Name).ToList();
        if (demoUsers.Count == 0) return;

        var exposed = urls.Where(u => !IsLoopback(u)).ToList();
        if (exposed.Count > 0)
        {
            throw new InvalidOperationException(
                $"Refusing to listen on {string.Join(", ", exposed)} with the demo credentials of {string.Join(", ", demoUsers)}. " +
                "Set Identity:Users[*]:Password to passwords of your own, or bind to 127.0.0.1.");
        }
    }

    public static bool IsLoopback(string url)
    {
        // Kestrel accepts "http://*:80" and "http://+:80", which Uri does not parse: both mean every address.
        var normalized = url.Replace("://*", "://any-address", StringComparison.Ordinal).Replace("://+", "://any-address", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri)) return false;
        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }
}
