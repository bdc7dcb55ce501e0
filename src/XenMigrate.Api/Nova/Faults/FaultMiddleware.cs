using Microsoft.AspNetCore.Http.Features;
using XenMigrate.Domain.Common;

namespace XenMigrate.Api.Nova.Faults;

/// <summary>
/// The one place a failure becomes a response: known faults keep their status and message, bad
/// HTTP requests map to 400/413, anything else is a 500 computeFault that reveals nothing but the
/// request id. Also fills in bodies for the empty 404/405 answers routing produces.
/// </summary>
public sealed partial class FaultMiddleware(RequestDelegate next, ILogger<FaultMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (NovaFaultException fault) when (!context.Response.HasStarted)
        {
            await FaultWriter.WriteAsync(context, fault.StatusCode, fault.Message, fault.RetryAfterSeconds);
            return;
        }
        catch (DomainException rule) when (!context.Response.HasStarted)
        {
            await FaultWriter.WriteAsync(context, StatusFor(rule), rule.Message);
            return;
        }
        catch (BadHttpRequestException bad) when (!context.Response.HasStarted)
        {
            var status = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? 413 : 400;
            await FaultWriter.WriteAsync(context, status, status == 413 ? NovaMessages.RequestTooLarge : NovaMessages.MalformedBody);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away; there is no one to answer
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            LogUnexpected(logger, e, context.Request.Method, context.Request.Path);
            await FaultWriter.WriteAsync(context, 500, NovaMessages.Unexpected(RequestIds.Get(context)));
            return;
        }

        // Any 4xx left without a body (routing's 404/405, the framework's 415 for a body that is not
        // JSON, the dashboard's 401/403) gets the fault a Nova or Keystone client parses.
        if (context.Response is { HasStarted: false, StatusCode: >= 400 and < 500 } && context.Response.ContentType is null
            && context.Response.ContentLength is null or 0)
            await FaultWriter.WriteAsync(context, context.Response.StatusCode, MessageFor(context.Response.StatusCode), keepHeaders: true);
    }

    private static string MessageFor(int status) => status switch
    {
        StatusCodes.Status404NotFound => NovaMessages.ResourceNotFound,
        StatusCodes.Status405MethodNotAllowed => NovaMessages.MethodNotAllowed,
        StatusCodes.Status415UnsupportedMediaType => NovaMessages.UnsupportedContentType,
        StatusCodes.Status401Unauthorized => NovaMessages.AuthenticationRequired,
        StatusCodes.Status403Forbidden => NovaMessages.Forbidden,
        _ => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase + "." : "The request was refused.",
    };

    /// <summary>The one table from a broken domain rule (the client's doing) to Nova's status; each exception names its kind.</summary>
    private static int StatusFor(DomainException rule) => rule.Kind switch
    {
        FaultKind.Conflict => StatusCodes.Status409Conflict,
        FaultKind.NotFound => StatusCodes.Status404NotFound,
        FaultKind.Forbidden => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status400BadRequest,
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected error answering {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, Exception e, string method, PathString path);
}
