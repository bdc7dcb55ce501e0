using System.Text.Json.Nodes;

namespace XenMigrate.Api.Nova.Faults;

/// <summary>
/// Writes error bodies in the shape the client expects from the part of the API it called:
/// Keystone's <c>{"error":{code,title,message}}</c> under /identity, Nova's fault everywhere else.
/// Always <c>application/json</c>, never problem+json (tempest and novaclient parse only JSON).
/// </summary>
public static class FaultWriter
{
    /// <param name="keepHeaders">Keep the headers already set (e.g. a 401's WWW-Authenticate) when filling in an empty answer.</param>
    public static Task WriteAsync(HttpContext context, int statusCode, string message, int? retryAfterSeconds = null, bool keepHeaders = false)
    {
        var response = context.Response;
        if (!keepHeaders) response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        if (retryAfterSeconds is { } seconds) response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

        JsonObject body;
        if (IsIdentityPath(context.Request.Path))
        {
            body = new JsonObject
            {
                ["error"] = new JsonObject
                {
                    ["code"] = statusCode,
                    ["title"] = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(statusCode),
                    ["message"] = message,
                },
            };
        }
        else
        {
            var fault = new JsonObject { ["code"] = statusCode, ["message"] = message };
            if (retryAfterSeconds is { } retry) fault["retryAfter"] = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);

            body = new JsonObject { [FaultNames.For(statusCode)] = fault };
        }

        return response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    public static bool IsIdentityPath(PathString path) => path.StartsWithSegments("/identity", StringComparison.OrdinalIgnoreCase);
}
