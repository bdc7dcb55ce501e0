using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// Trailing parameters that xapi fills in when a caller omits them. The published data model
/// (<c>xenapi.json</c>) leaves out <c>param_default</c>, so the ones that matter are listed here from
/// xapi's <c>datamodel*.ml</c>: each was appended in a later release, and older hosts reject it.
/// </summary>
internal static class ParameterDefaults
{
    private static readonly Dictionary<(string Class, string Message, string Param), Func<JsonNode>> Defaults = new()
    {
        // version added in miami, originator in clearwater.
        [("session", "login_with_password", "version")] = () => JsonValue.Create("1.1"),
        [("session", "login_with_password", "originator")] = () => JsonValue.Create(string.Empty),
        // ignore_vdis: 21.4.0.
        [("VM", "snapshot", "ignore_vdis")] = () => new JsonArray(),
        // vgpu_map: 7.3 (inverness).
        [("VM", "migrate_send", "vgpu_map")] = () => new JsonObject(),
        [("VM", "assert_can_migrate", "vgpu_map")] = () => new JsonObject(),
        // driver_params: miami.
        [("VDI", "snapshot", "driver_params")] = () => new JsonObject(),
        [("VDI", "clone", "driver_params")] = () => new JsonObject(),
        // sm_config: miami.
        [("SR", "create", "sm_config")] = () => new JsonObject(),
        // network and evacuate_batch_size: 1.297.0 / 24.3.0.
        [("host", "evacuate", "network")] = () => JsonValue.Create(XapiType.NullRef),
        [("host", "evacuate", "evacuate_batch_size")] = () => JsonValue.Create(0L),
    };

    public static JsonNode? Find(string className, string message, string parameter) =>
        Defaults.TryGetValue((className, message, parameter), out var make) ? make() : null;

    public static IEnumerable<(string Class, string Message, string Param)> All => Defaults.Keys;
}
