using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace XenMigrate.Infrastructure.Xapi;

/// <summary>
/// HTTP handlers for talking to hosts. XenServer hosts ship self-signed certificates; instead of
/// accepting any certificate, the operator pins the host's certificate by its thumbprint.
/// </summary>
public static class XapiHttp
{
    public static SocketsHttpHandler CreateHandler(XapiHostOptions host) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        // A redirect would resend a login (user, password) or a session ref to wherever it points;
        // standalone hosts never redirect, so one is an error, not a hop.
        AllowAutoRedirect = false,
        // Transfers run for as long as a disk takes; per-call timeouts are applied by the callers.
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = string.IsNullOrWhiteSpace(host.Thumbprint)
                ? null
                : (_, certificate, _, _) => certificate is not null && MatchesThumbprint(certificate, host.Thumbprint!),
        },
    };

    /// <summary>
    /// True when the certificate's SHA-256 or SHA-1 thumbprint equals one of the pinned ones. A pool
    /// has one certificate per member (a login may be sent on to the master, a transfer to the
    /// member holding the disk), so several may be pinned, separated by commas, semicolons or blanks.
    /// </summary>
    public static bool MatchesThumbprint(X509Certificate certificate, string pinned)
    {
        using var cert = new X509Certificate2(certificate);
        var sha256 = System.Text.Encoding.ASCII.GetBytes(cert.GetCertHashString(HashAlgorithmName.SHA256));
        var sha1 = cert.GetCertHashString(HashAlgorithmName.SHA1);
        var matched = false;
        foreach (var wanted in pinned.Split([',', ';', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(Normalize))
        {
            // Every pin is compared (no early exit) so the time taken says nothing about which one matched.
            matched |= CryptographicOperations.FixedTimeEquals(sha256, System.Text.Encoding.ASCII.GetBytes(wanted))
                       | string.Equals(sha1, wanted, StringComparison.Ordinal);
        }

        return matched;
    }

    private static string Normalize(string thumbprint) =>
        new string(thumbprint.Where(Uri.IsHexDigit).ToArray()).ToUpperInvariant();
}
