using System.Text.Json.Nodes;

namespace XenMigrate.Api.Identity;

/// <summary>Keystone's error body: <c>{"error":{"code","title","message"}}</c> with the status.</summary>
internal sealed record KeystoneError(int Status, string Message)
{
    public IResult Result => Results.Json(
        new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = Status,
                ["title"] = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(Status),
                ["message"] = Message,
            },
        },
        statusCode: Status, contentType: "application/json");
}
