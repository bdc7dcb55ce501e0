namespace XenMigrate.Api.Nova;

/// <summary>
/// The gateway's public base URL: <c>Gateway:PublicUrl</c> when set (behind a proxy), otherwise
/// the scheme, host and path base of the request itself.
/// </summary>
public static class PublicUrls
{
    public static string Base(HttpContext context)
    {
        var configured = context.RequestServices.GetService<IConfiguration>()?["Gateway:PublicUrl"];
        if (!string.IsNullOrWhiteSpace(configured)) return configured.TrimEnd('/');
        var request = context.Request;
        return $"{request.Scheme}://{HostOf(request)}{request.PathBase}".TrimEnd('/');
    }

    /// <summary>
    /// The Host header as the client sent it. Not <c>HttpRequest.Host</c>: its getter decodes
    /// punycode and throws on a label that is not valid (<c>xn--</c>), while the header as sent is
    /// already a URL component (Kestrel refuses characters that do not belong in a Host).
    /// </summary>
    private static string HostOf(HttpRequest request) => request.Headers.Host.ToString();

    /// <summary>The compute endpoint advertised in the catalog.</summary>
    public static string Compute(HttpContext context) => Base(context) + "/v2.1";
}
