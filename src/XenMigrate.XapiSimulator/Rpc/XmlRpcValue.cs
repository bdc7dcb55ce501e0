using System.Globalization;
using System.Security;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Rpc;

/// <summary>
/// Encodes a result the way xapi stores it in <c>task.result</c>: an XML-RPC <c>&lt;value&gt;</c>,
/// even for JSON-RPC callers (e.g. <c>&lt;value&gt;OpaqueRef:…&lt;/value&gt;</c>); ints travel as
/// strings, as in xapi's XML-RPC.
/// </summary>
internal static class XmlRpcValue
{
    public static string Encode(JsonNode? value)
    {
        if (value is null) return string.Empty;
        var xml = new StringBuilder();
        Append(xml, value);
        return xml.ToString();
    }

    private static void Append(StringBuilder xml, JsonNode? value)
    {
        switch (value)
        {
            case null:
                xml.Append("<value></value>");
                break;
            case JsonObject obj:
                xml.Append("<value><struct>");
                foreach (var (key, item) in obj)
                {
                    xml.Append("<member><name>").Append(SecurityElement.Escape(key)).Append("</name>");
                    Append(xml, item);
                    xml.Append("</member>");
                }

                xml.Append("</struct></value>");
                break;
            case JsonArray array:
                xml.Append("<value><array><data>");
                foreach (var item in array) Append(xml, item);
                xml.Append("</data></array></value>");
                break;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.True or JsonValueKind.False:
                        xml.Append("<value><boolean>").Append(v.GetValue<bool>() ? '1' : '0').Append("</boolean></value>");
                        break;
                    case JsonValueKind.Number when v.TryGetValue<long>(out var l):
                        xml.Append("<value>").Append(l.ToString(CultureInfo.InvariantCulture)).Append("</value>");
                        break;
                    case JsonValueKind.Number:
                        xml.Append("<value><double>").Append(v.GetValue<double>().ToString("R", CultureInfo.InvariantCulture)).Append("</double></value>");
                        break;
                    default:
                        xml.Append("<value>").Append(SecurityElement.Escape(v.ToString())).Append("</value>");
                        break;
                }

                break;
        }
    }
}
