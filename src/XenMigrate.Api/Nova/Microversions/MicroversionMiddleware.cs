using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova.Microversions;

/// <summary>
/// Reads the requested microversion under /v2.1 (the <c>OpenStack-API-Version: compute X.Y</c>
/// header first, then the legacy <c>X-OpenStack-Nova-API-Version</c>), refuses malformed (400) and
/// unsupported (406) ones, and echoes the version in use on every response, errors included.
/// </summary>
public sealed class MicroversionMiddleware(RequestDelegate next)
{
    private const string NewHeader = "OpenStack-API-Version";
    private const string LegacyHeader = "X-OpenStack-Nova-API-Version";
    private const string ItemKey = "XenMigrate.Microversion";

    public static ApiVersion Get(HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var v) && v is ApiVersion version ? version : ApiVersion.Min;

    public static bool AppliesTo(PathString path) => path.StartsWithSegments("/v2.1", StringComparison.Ordinal);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!AppliesTo(context.Request.Path))
        {
            await next(context);
            return;
        }

        // Until a valid version is known, errors are reported at the minimum.
        var version = ApiVersion.Min;
        context.Response.OnStarting(() =>
        {
            var v = Get(context).ToString();
            context.Response.Headers[NewHeader] = "compute " + v;
            context.Response.Headers[LegacyHeader] = v;
            context.Response.Headers.Vary = $"{NewHeader}, {LegacyHeader}";
            return Task.CompletedTask;
        });

        var requested = Requested(context.Request.Headers);
        if (requested is not null)
        {
            if (string.Equals(requested, "latest", StringComparison.OrdinalIgnoreCase))
            {
                version = ApiVersion.Max;
            }
            else if (!ApiVersion.TryParse(requested, out version))
            {
                throw NovaFaultException.BadRequest(NovaMessages.VersionMalformed(requested));
            }
            else if (version < ApiVersion.Min || version > ApiVersion.Max)
            {
                throw new NovaFaultException(StatusCodes.Status406NotAcceptable,
                    NovaMessages.VersionUnsupported(requested, ApiVersion.Min.ToString(), ApiVersion.Max.ToString()));
            }
        }

        context.Items[ItemKey] = version;
        await next(context);
    }

    private static string? Requested(IHeaderDictionary headers)
    {
        foreach (var value in headers[NewHeader])
        {
            foreach (var part in (value ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var pieces = part.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (pieces.Length == 2 && string.Equals(pieces[0], "compute", StringComparison.OrdinalIgnoreCase))
                    return pieces[1];
            }
        }

        var legacy = headers[LegacyHeader].ToString().Trim();
        return legacy.Length > 0 ? legacy : null;
    }
}
