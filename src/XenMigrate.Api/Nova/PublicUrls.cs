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
        return $"{request.Scheme}://{request.Host}{request.PathBase}".TrimEnd('/');
    }

    /// <summary>The compute endpoint advertised in the catalog.</summary>
    public static string Compute(HttpContext context) => Base(context) + "/v2.1";
}
