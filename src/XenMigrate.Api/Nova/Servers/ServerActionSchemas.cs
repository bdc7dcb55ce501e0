using System.Text.Json.Nodes;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// The server actions <see cref="ServerActionsApi"/> carries out, each with its body as Nova's
/// <c>schemas/*.py</c> describe it (latest microversion) and its success status: what the OpenAPI
/// document offers as the action body's <c>oneOf</c>, one object per action key. A test checks
/// that the dispatcher knows every key listed here.
/// </summary>
public static class ServerActionSchemas
{
    public sealed record ServerAction(string Key, int Status, string Summary, string Schema, string Example);

    private const string Null = """{"type":"null"}""";

    public static readonly IReadOnlyList<ServerAction> All =
    [
        new("resize", StatusCodes.Status202Accepted, "Resize to another flavor (the server stops, moves if needed, and waits in VERIFY_RESIZE)",
            """{"type":"object","required":["flavorRef"],"additionalProperties":false,"properties":{"flavorRef":{"oneOf":[{"type":"string","minLength":1},{"type":"integer","minimum":1}]},"OS-DCF:diskConfig":{"enum":["AUTO","MANUAL"]}}}""",
            """{"resize":{"flavorRef":"2"}}"""),
        new("confirmResize", StatusCodes.Status204NoContent, "Confirm a resize or cold migration: the source VM is destroyed", Null, """{"confirmResize":null}"""),
        new("revertResize", StatusCodes.Status202Accepted, "Revert a resize or cold migration: the untouched source VM starts again", Null, """{"revertResize":null}"""),
        new("migrate", StatusCodes.Status202Accepted, "Cold-migrate (host from 2.56)",
            """{"oneOf":[{"type":"null"},{"type":"object","additionalProperties":false,"properties":{"host":{"type":["string","null"],"minLength":1,"maxLength":255}}}]}""",
            """{"migrate":null}"""),
        new("os-migrateLive", StatusCodes.Status202Accepted, "Live-migrate (XenMotion, or Storage XenMotion across pools)",
            """{"type":"object","required":["block_migration","host"],"additionalProperties":false,"properties":{"block_migration":{"oneOf":[{"type":"boolean"},{"enum":["auto"]}]},"host":{"type":["string","null"],"minLength":1,"maxLength":255},"force":{"type":"boolean","description":"2.30 to 2.67"}}}""",
            """{"os-migrateLive":{"host":null,"block_migration":"auto"}}"""),
        new("reboot", StatusCodes.Status202Accepted, "Reboot: SOFT is VM.clean_reboot (then hard), HARD is VM.hard_reboot",
            """{"type":"object","required":["type"],"additionalProperties":false,"properties":{"type":{"enum":["HARD","Hard","hard","SOFT","Soft","soft"]}}}""",
            """{"reboot":{"type":"SOFT"}}"""),
        new("os-stop", StatusCodes.Status202Accepted, "Stop (VM.clean_shutdown, then hard)", Null, """{"os-stop":null}"""),
        new("os-start", StatusCodes.Status202Accepted, "Start", Null, """{"os-start":null}"""),
        new("pause", StatusCodes.Status202Accepted, "Pause (VM.pause)", Null, """{"pause":null}"""),
        new("unpause", StatusCodes.Status202Accepted, "Unpause (VM.unpause)", Null, """{"unpause":null}"""),
        new("suspend", StatusCodes.Status202Accepted, "Suspend to disk (VM.suspend)", Null, """{"suspend":null}"""),
        new("resume", StatusCodes.Status202Accepted, "Resume a suspended server (VM.resume)", Null, """{"resume":null}"""),
        new("lock", StatusCodes.Status202Accepted, "Lock: only its locker or an admin may act on it (locked_reason from 2.73)",
            """{"oneOf":[{"type":"null"},{"type":"object","additionalProperties":false,"properties":{"locked_reason":{"type":"string","minLength":1,"maxLength":255}}}]}""",
            """{"lock":{"locked_reason":"maintenance"}}"""),
        new("unlock", StatusCodes.Status202Accepted, "Unlock", Null, """{"unlock":null}"""),
        new("os-resetState", StatusCodes.Status202Accepted, "Reset vm_state to active or error, task_state to none (admin; refused while a job builds, deletes or moves it)",
            """{"type":"object","required":["state"],"additionalProperties":false,"properties":{"state":{"enum":["active","error"]}}}""",
            """{"os-resetState":{"state":"active"}}"""),
        new("restore", StatusCodes.Status202Accepted, "Restore a soft-deleted server (XenMigrate deletes at once, so this is always 409)", Null, """{"restore":null}"""),
        new("forceDelete", StatusCodes.Status202Accepted, "Delete now (as DELETE /servers/{id}: nothing is soft-deleted)", Null, """{"forceDelete":null}"""),
    ];

    /// <summary>The action body's JSON schema: exactly one of the actions, each an object with its one key.</summary>
    public static JsonObject BodySchema() => new()
    {
        ["oneOf"] = new JsonArray(All.Select(a => (JsonNode)new JsonObject
        {
            ["title"] = a.Key,
            ["description"] = $"{a.Summary}. Answers {a.Status}.",
            ["type"] = "object",
            ["required"] = new JsonArray(a.Key),
            ["additionalProperties"] = false,
            ["properties"] = new JsonObject { [a.Key] = JsonNode.Parse(a.Schema) },
        }).ToArray()),
    };
}
