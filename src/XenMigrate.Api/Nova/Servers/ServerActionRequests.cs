using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// The bodies of the server actions, checked as Nova's JSON schemas check them
/// (compute/schemas/servers.py, migrate_server.py), with Nova's messages.
/// </summary>
public sealed record ResizeRequest(JsonNode? Body)
{
    public string FlavorRef => Body?["flavorRef"] is JsonValue v ? v.ToString() : string.Empty;
}

public sealed record MigrateRequest(JsonNode? Body)
{
    public string? Host => Body is JsonObject o && o["host"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}

public sealed class ResizeRequestValidator : AbstractValidator<ResizeRequest>
{
    private static readonly HashSet<string> Allowed = ["flavorRef", "OS-DCF:diskConfig"];

    public ResizeRequestValidator()
    {
        RuleFor(r => r.Body).Must(b => b is JsonObject)
            .WithMessage(r => NovaMessages.InvalidInput("resize", r.Body, $"{NovaValues.Repr(r.Body)} is not of type 'object'"));
        When(r => r.Body is JsonObject, () =>
        {
            RuleFor(r => r.Body).Must(b => b!.AsObject().All(p => Allowed.Contains(p.Key)))
                .WithMessage(r => NovaMessages.InvalidInput("resize", r.Body,
                    $"Additional properties are not allowed ('{r.Body!.AsObject().First(p => !Allowed.Contains(p.Key)).Key}' was unexpected)"));
            RuleFor(r => r.Body).Must(b => b!.AsObject().ContainsKey("flavorRef"))
                .WithMessage(r => NovaMessages.InvalidInput("resize", r.Body, "'flavorRef' is a required property"));
            RuleFor(r => r.Body!["flavorRef"]).Must(IsFlavorRef)
                .When(r => r.Body!.AsObject().ContainsKey("flavorRef"))
                .WithMessage(r => NovaMessages.InvalidInput("flavorRef", r.Body!["flavorRef"],
                    $"{NovaValues.Repr(r.Body!["flavorRef"])} is not valid under any of the given schemas"));
            RuleFor(r => r.Body!["OS-DCF:diskConfig"]).Must(d => d is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is "AUTO" or "MANUAL")
                .When(r => r.Body!.AsObject().ContainsKey("OS-DCF:diskConfig"))
                .WithMessage(r => NovaMessages.InvalidInput("OS-DCF:diskConfig", r.Body!["OS-DCF:diskConfig"],
                    $"{NovaValues.Repr(r.Body!["OS-DCF:diskConfig"])} is not one of ['AUTO', 'MANUAL']"));
        });
    }

    /// <summary>Nova's flavor_ref: a non-empty string or an integer.</summary>
    private static bool IsFlavorRef(JsonNode? node) => node is JsonValue v && v.GetValueKind() switch
    {
        JsonValueKind.String => v.GetValue<string>().Length > 0,
        JsonValueKind.Number => v.TryGetValue<long>(out _),
        _ => false,
    };

}

public sealed class MigrateRequestValidator : AbstractValidator<MigrateRequest>
{
    public MigrateRequestValidator()
    {
        RuleFor(r => r.Body).Must(b => b is null || b is JsonObject)
            .WithMessage(r => NovaMessages.InvalidInput("migrate", r.Body, $"{NovaValues.Repr(r.Body)} is not of type 'object', 'null'"));
        When(r => r.Body is JsonObject, () =>
        {
            RuleFor(r => r.Body).Must(b => b!.AsObject().All(p => p.Key == "host"))
                .WithMessage(r => NovaMessages.InvalidInput("migrate", r.Body,
                    $"Additional properties are not allowed ('{r.Body!.AsObject().First(p => p.Key != "host").Key}' was unexpected)"));
            RuleFor(r => r.Body!["host"]).Must(IsHost)
                .When(r => r.Body!.AsObject().ContainsKey("host"))
                .WithMessage(r => NovaMessages.InvalidInput("host", r.Body!["host"],
                    $"{NovaValues.Repr(r.Body!["host"])} does not match '^[a-zA-Z0-9-._]*$'"));
        });
    }

    /// <summary>Nova's fqdn parameter type (nullable here): 1–255 of [a-zA-Z0-9-._].</summary>
    private static bool IsHost(JsonNode? node) => node is null
        || node is JsonValue v && v.GetValueKind() == JsonValueKind.String
        && v.GetValue<string>() is { Length: >= 1 and <= 255 } s && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');
}

/// <summary>The reboot action's body (nova/api/openstack/compute/schemas/servers.py: reboot).</summary>
public sealed record RebootRequest(JsonNode? Body)
{
    public bool Hard => Body?["type"] is JsonValue v && v.GetValue<string>().Equals("HARD", StringComparison.OrdinalIgnoreCase);
}

public sealed class RebootRequestValidator : AbstractValidator<RebootRequest>
{
    /// <summary>Nova's enum, in its order: exactly these spellings.</summary>
    private static readonly string[] Types = ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"];

    public RebootRequestValidator()
    {
        RuleFor(r => r.Body).Must(b => b is JsonObject)
            .WithMessage(r => NovaMessages.InvalidInput("reboot", r.Body, $"{NovaValues.Repr(r.Body)} is not of type 'object'"));
        When(r => r.Body is JsonObject, () =>
        {
            RuleFor(r => r.Body).Must(b => b!.AsObject().All(p => p.Key == "type"))
                .WithMessage(r => NovaMessages.InvalidInput("reboot", r.Body,
                    $"Additional properties are not allowed ('{r.Body!.AsObject().First(p => p.Key != "type").Key}' was unexpected)"));
            RuleFor(r => r.Body).Must(b => b!.AsObject().ContainsKey("type"))
                .WithMessage(r => NovaMessages.InvalidInput("reboot", r.Body, "'type' is a required property"));
            RuleFor(r => r.Body!["type"]).Must(t => t is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                .When(r => r.Body!.AsObject().ContainsKey("type"))
                .WithMessage(r => NovaMessages.InvalidInput("type", r.Body!["type"], $"{NovaValues.Repr(r.Body!["type"])} is not of type 'string'"));
            RuleFor(r => r.Body!["type"]).Must(t => Types.Contains(t!.GetValue<string>()))
                .When(r => r.Body!["type"] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                .WithMessage(r => NovaMessages.InvalidInput("type", r.Body!["type"],
                    $"{NovaValues.Repr(r.Body!["type"])} is not one of [{string.Join(", ", Types.Select(t => $"'{t}'"))}]"));
        });
    }
}
