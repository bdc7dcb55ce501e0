using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using XenMigrate.Api.Identity;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova.RateLimiting;

/// <summary>The <c>RateLimit</c> configuration section.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimit";

    public bool Enabled { get; set; } = true;

    /// <summary>Requests per second each token (or each address, without a valid token) may sustain.</summary>
    public int PermitsPerSecond { get; set; } = 100;

    /// <summary>Requests a token may send at once before the sustained rate applies (the bucket's size).</summary>
    public int Burst { get; set; } = 1000;
}

/// <summary>
/// A per-token request rate limit (ASP.NET Core's rate limiter, one token bucket per partition)
/// answering Nova's <c>{"overLimit":{"code":429,"message":…,"retryAfter":"N"}}</c> with a
/// <c>Retry-After</c> header. A valid X-Auth-Token is its own partition (by hash, so no token is
/// kept); anything else, a made-up token included, shares its remote address's bucket, so minting
/// tokens does not buy fresh buckets.
/// </summary>
public static class NovaRateLimiting
{
    /// <summary>Nova's wording when its rate limiting middleware refused a request.</summary>
    public const string Message = "This request was rate-limited.";

    public static IServiceCollection AddXenMigrateRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
        if (options.PermitsPerSecond < 1 || options.Burst < 1)
            throw new InvalidOperationException($"{RateLimitOptions.Section}:PermitsPerSecond and {RateLimitOptions.Section}:Burst must be at least 1.");
        services.AddSingleton(options);
        if (!options.Enabled) return services;

        return services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.GetTokenBucketLimiter(PartitionOf(context), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.Burst,
                    TokensPerPeriod = options.PermitsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0, // refuse at once; a queued request would only hold a connection open
                    AutoReplenishment = true,
                }));
            limiter.OnRejected = (rejected, _) =>
            {
                var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? (int)Math.Ceiling(wait.TotalSeconds) : 1;
                return new ValueTask(FaultWriter.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, Message, Math.Max(1, seconds)));
            };
        });
    }

    /// <summary>After authentication (so a token is known to be valid), before authorization and the routes.</summary>
    public static IApplicationBuilder UseXenMigrateRateLimiting(this IApplicationBuilder app) =>
        app.ApplicationServices.GetRequiredService<RateLimitOptions>().Enabled ? app.UseRateLimiter() : app;

    private static string PartitionOf(HttpContext context)
    {
        if (KeystoneAuthenticationHandler.CallerOf(context) is not null)
        {
            var token = context.Request.Headers[KeystoneAuthenticationHandler.TokenHeader].ToString();
            return "token:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        }

        return "address:" + (context.Connection.RemoteIpAddress?.ToString() ?? string.Empty);
    }
}
