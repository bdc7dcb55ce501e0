using System.Diagnostics;
using XenMigrate.Infrastructure.Telemetry;

namespace XenMigrate.Api.Nova;

/// <summary>
/// Gives every request a Nova request id (<c>req-&lt;uuid4&gt;</c>), returned as both
/// <c>x-openstack-request-id</c> and <c>x-compute-request-id</c>; an instance action started by
/// the request records the same id.
/// </summary>
public static class RequestIds
{
    private const string ItemKey = "XenMigrate.RequestId";

    public static string Get(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var id) && id is string existing) return existing;
        var created = "req-" + Guid.NewGuid().ToString("D");
        context.Items[ItemKey] = created;
        return created;
    }

    /// <summary>
    /// Sets the id on the response, on the request's span, and as a log scope around the rest of
    /// the pipeline, so every log line written while answering carries it.
    /// </summary>
    public static IApplicationBuilder UseNovaRequestIds(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("XenMigrate.Api.Requests");
        return app.Use(async (context, next) =>
        {
            var id = Get(context);
            Activity.Current?.SetTag(XenMigrateTelemetry.RequestIdTag, id);
            context.Response.OnStarting(() =>
            {
                context.Response.Headers["x-openstack-request-id"] = id;
                context.Response.Headers["x-compute-request-id"] = id;
                return Task.CompletedTask;
            });
            using (logger.BeginScope(MigrationStepScope.LogScope(id))) await next(context);
        });
    }
}
