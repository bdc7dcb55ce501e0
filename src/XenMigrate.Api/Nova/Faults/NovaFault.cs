namespace XenMigrate.Api.Nova.Faults;

/// <summary>
/// A failure to report to the client as a Nova fault body
/// (<c>{"badRequest":{"code":400,"message":…}}</c>). Thrown anywhere in a request; written once by
/// <see cref="FaultMiddleware"/>.
/// </summary>
public sealed class NovaFaultException(int statusCode, string message, int? retryAfterSeconds = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public static NovaFaultException BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);
    public static NovaFaultException Forbidden(string message) => new(StatusCodes.Status403Forbidden, message);
    public static NovaFaultException NotFound(string message) => new(StatusCodes.Status404NotFound, message);
    public static NovaFaultException Conflict(string message) => new(StatusCodes.Status409Conflict, message);
}

/// <summary>The fault names Nova gives each status code (nova/api/openstack/wsgi.py <c>Fault</c>).</summary>
public static class FaultNames
{
    public static string For(int statusCode) => statusCode switch
    {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 or 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    };
}
