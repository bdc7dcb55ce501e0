using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml;
using System.Xml.Linq;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Rpc;

/// <summary>
/// XML-RPC as xapi speaks it, through mirage/ocaml-rpc's <c>Xmlrpc</c> (src/lib/xmlrpc.ml) in its
/// non-strict mode: 64-bit ints go out as bare text (<c>&lt;value&gt;42&lt;/value&gt;</c>, which
/// clients read as a string), floats as <c>&lt;double&gt;</c> with %.16g, datetimes as
/// <c>&lt;dateTime.iso8601&gt;</c> (xapi's Date.rpc_of_t), void as an empty value; strings escape
/// &lt; &gt; &amp; " and drop other control characters; struct member names go out as they are.
/// Incoming values may be typed (<c>int</c>, <c>i4</c>, <c>i8</c>, <c>boolean</c>, <c>double</c>,
/// <c>string</c>, <c>dateTime.iso8601</c>, <c>base64</c>, <c>array</c>, <c>struct</c>,
/// <c>nil</c>) or bare text (a string).
/// </summary>
internal static class XmlRpcCodec
{
    private const string Declaration = "<?xml version=\"1.0\"?>";

    /// <summary>Reads a <c>methodCall</c>: its method name and parameters as JSON values.</summary>
    public static (string Method, List<JsonNode?> Parameters) ParseCall(string body)
    {
        XDocument document;
        try
        {
            // A DOCTYPE is skipped, as Xmlm does; nothing external is ever resolved.
            using var reader = XmlReader.Create(new StringReader(body), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null });
            document = XDocument.Load(reader, LoadOptions.PreserveWhitespace);
        }
        catch (XmlException e)
        {
            throw new FormatException($"Xmlm.Error: {e.Message}", e);
        }

        var call = document.Root;
        if (call is null || call.Name.LocalName != "methodCall") throw new FormatException("open_tag(methodCall) expected");
        var name = call.Elements().FirstOrDefault();
        if (name is null || name.Name.LocalName != "methodName") throw new FormatException("open_tag(methodName) expected");
        var parameters = new List<JsonNode?>();
        var paramsElement = name.ElementsAfterSelf().FirstOrDefault();
        if (paramsElement is not null)
        {
            if (paramsElement.Name.LocalName != "params") throw new FormatException("open_tag(params) expected");
            foreach (var param in paramsElement.Elements())
            {
                if (param.Name.LocalName != "param") throw new FormatException("open_tag(param) expected");
                parameters.Add(ParseValue(param.Elements().FirstOrDefault() ?? throw new FormatException("open_tag(value) expected")));
            }
        }

        return (name.Value, parameters);
    }

    /// <summary>A <c>&lt;value&gt;</c> as ocaml-rpc's Parser.value reads it.</summary>
    private static JsonNode? ParseValue(XElement value)
    {
        if (value.Name.LocalName != "value") throw new FormatException($"open_tag(value) expected, got {value.Name.LocalName}");
        var typed = value.Elements().FirstOrDefault();
        if (typed is null) return JsonValue.Create(value.Value); // bare text, or empty: a string
        var data = typed.Value;
        switch (typed.Name.LocalName)
        {
            case "int" or "i4" or "i8":
                return long.TryParse(data.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
                    ? JsonValue.Create(l)
                    : throw new FormatException($"Int64.of_string {data}");
            case "boolean":
                return JsonValue.Create(data == "1");
            case "double":
                return double.TryParse(data.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                    ? JsonValue.Create(d)
                    : throw new FormatException($"float_of_string {data}");
            case "string" or "dateTime.iso8601":
                return JsonValue.Create(data);
            case "base64":
                return JsonValue.Create(Encoding.UTF8.GetString(Convert.FromBase64String(data.Trim())));
            case "nil":
                return null;
            case "array":
            {
                var array = new JsonArray();
                var dataElement = typed.Elements().FirstOrDefault();
                if (dataElement is null) return array;
                if (dataElement.Name.LocalName != "data") throw new FormatException("open_tag(data) expected");
                foreach (var item in dataElement.Elements()) array.Add(ParseValue(item));
                return array;
            }

            case "struct":
            {
                var obj = new JsonObject();
                foreach (var member in typed.Elements())
                {
                    if (member.Name.LocalName != "member") throw new FormatException("open_tag(member) expected");
                    var parts = member.Elements().ToList();
                    if (parts.Count != 2 || parts[0].Name.LocalName != "name") throw new FormatException("open_tag(name) expected");
                    obj[parts[0].Value] = ParseValue(parts[1]);
                }

                return obj;
            }

            default:
                throw new FormatException($"open_tag({typed.Name.LocalName})");
        }
    }

    /// <summary>xmlrpc.ml add_response: the result in xapi's <c>{Status, Value}</c> struct.</summary>
    public static string SuccessResponse(JsonNode? value, XapiType type, XapiDataModel model)
    {
        var xml = new StringBuilder(Declaration).Append("<methodResponse><params><param>");
        xml.Append("<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>");
        AppendValue(xml, value, type, model);
        xml.Append("</member></struct></value></param></params></methodResponse>");
        return xml.ToString();
    }

    /// <summary>A failure: <c>{Status: "Failure", ErrorDescription: [code, params…]}</c>.</summary>
    public static string FailureResponse(IReadOnlyList<string> errorInfo)
    {
        ArgumentNullException.ThrowIfNull(errorInfo);
        var xml = new StringBuilder(Declaration).Append("<methodResponse><params><param>");
        xml.Append("<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>");
        foreach (var item in errorInfo) AppendString(xml, item);
        xml.Append("</data></array></value></member></struct></value></param></params></methodResponse>");
        return xml.ToString();
    }

    /// <summary>api_server.ml callback: system.listMethods answers its list bare, without the Status struct.</summary>
    public static string BareResponse(JsonNode? value, XapiType type, XapiDataModel model)
    {
        var xml = new StringBuilder(Declaration).Append("<methodResponse><params><param>");
        AppendValue(xml, value, type, model);
        return xml.Append("</param></params></methodResponse>").ToString();
    }

    /// <summary>
    /// A result the way xapi stores it in <c>task.result</c>: an XML-RPC <c>&lt;value&gt;</c>, even for
    /// JSON-RPC callers (e.g. <c>&lt;value&gt;OpaqueRef:…&lt;/value&gt;</c>); a void call's result is empty.
    /// </summary>
    public static string TaskResult(JsonNode? result, XapiDataModel model)
    {
        if (result is null) return string.Empty;
        var xml = new StringBuilder();
        AppendValue(xml, result, null, model);
        return xml.ToString();
    }

    /// <summary>One value, encoded after its XAPI type where the value has that shape (anything else untyped).</summary>
    public static void AppendValue(StringBuilder xml, JsonNode? value, XapiType? type, XapiDataModel model)
    {
        ArgumentNullException.ThrowIfNull(xml);
        ArgumentNullException.ThrowIfNull(model);
        switch (type?.Kind)
        {
            case XapiTypeKind.Void:
                xml.Append("<value></value>");
                return;
            case XapiTypeKind.Record when type.Name == "event batch" && value is JsonObject batch:
                AppendEventBatch(xml, batch, model);
                return;
            case XapiTypeKind.Record when type.Name == "event" && value is JsonObject ev:
                AppendEvent(xml, ev, model);
                return;
            case XapiTypeKind.Record when value is JsonObject record && model.FindClass(type.Name!) is { } cls:
                xml.Append("<value><struct>");
                foreach (var (key, item) in record)
                    AppendMember(xml, key, item, cls.FieldsByName.TryGetValue(key, out var field) ? field.Type : null, model);
                xml.Append("</struct></value>");
                return;
            case XapiTypeKind.Map when value is JsonObject map:
                xml.Append("<value><struct>");
                foreach (var (key, item) in map) AppendMember(xml, key, item, type.Element, model);
                xml.Append("</struct></value>");
                return;
            case XapiTypeKind.Set when value is JsonArray set:
                xml.Append("<value><array><data>");
                foreach (var item in set) AppendValue(xml, item, type.Element, model);
                xml.Append("</data></array></value>");
                return;
            case XapiTypeKind.Option:
                AppendValue(xml, value, type.Element, model);
                return;
            case XapiTypeKind.DateTime when value is JsonValue dt && dt.TryGetValue<string>(out var text):
                xml.Append("<value><dateTime.iso8601>").Append(text).Append("</dateTime.iso8601></value>");
                return;
            case XapiTypeKind.Float when value is JsonValue f && TryDouble(f, out var d):
                AppendDouble(xml, d);
                return;
            case XapiTypeKind.Int when value is JsonValue i && i.TryGetValue<long>(out var l):
                xml.Append("<value>").Append(l.ToString(CultureInfo.InvariantCulture)).Append("</value>");
                return;
            default:
                AppendUntyped(xml, value, model);
                return;
        }
    }

    /// <summary>xapi_event.ml / event_types.ml rpc_of_event_from: events, valid_ref_counts as Int32 (i4), token.</summary>
    private static void AppendEventBatch(StringBuilder xml, JsonObject batch, XapiDataModel model)
    {
        xml.Append("<value><struct>");
        foreach (var (key, item) in batch)
        {
            xml.Append("<member><name>").Append(key).Append("</name>");
            switch (key)
            {
                case "events" when item is JsonArray events:
                    xml.Append("<value><array><data>");
                    foreach (var ev in events.OfType<JsonObject>()) AppendEvent(xml, ev, model);
                    xml.Append("</data></array></value>");
                    break;
                case "valid_ref_counts" when item is JsonObject counts:
                    xml.Append("<value><struct>");
                    foreach (var (cls, count) in counts)
                        xml.Append("<member><name>").Append(cls).Append("</name><value><i4>").Append(count?.ToJsonString()).Append("</i4></value></member>");
                    xml.Append("</struct></value>");
                    break;
                default:
                    AppendUntyped(xml, item, model);
                    break;
            }

            xml.Append("</member>");
        }

        xml.Append("</struct></value>");
    }

    /// <summary>An event: its strings, and the snapshot as a record of the event's class.</summary>
    private static void AppendEvent(StringBuilder xml, JsonObject ev, XapiDataModel model)
    {
        var cls = (ev["class"] as JsonValue)?.TryGetValue<string>(out var name) == true ? model.FindClassByEventName(name) : null;
        xml.Append("<value><struct>");
        foreach (var (key, item) in ev)
        {
            var type = key == "snapshot" && cls is not null ? new XapiType(XapiTypeKind.Record, cls.Name) : null;
            AppendMember(xml, key, item, type, model);
        }

        xml.Append("</struct></value>");
    }

    private static void AppendMember(StringBuilder xml, string name, JsonNode? value, XapiType? type, XapiDataModel model)
    {
        xml.Append("<member><name>").Append(name).Append("</name>");
        AppendValue(xml, value, type, model);
        xml.Append("</member>");
    }

    private static void AppendUntyped(StringBuilder xml, JsonNode? value, XapiDataModel model)
    {
        switch (value)
        {
            case null:
                xml.Append("<value></value>");
                break;
            case JsonObject obj:
                xml.Append("<value><struct>");
                foreach (var (key, item) in obj) AppendMember(xml, key, item, null, model);
                xml.Append("</struct></value>");
                break;
            case JsonArray array:
                xml.Append("<value><array><data>");
                foreach (var item in array) AppendUntyped(xml, item, model);
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
                    case JsonValueKind.Number when TryDouble(v, out var d):
                        AppendDouble(xml, d);
                        break;
                    default:
                        AppendString(xml, v.TryGetValue<string>(out var s) ? s : v.ToJsonString());
                        break;
                }

                break;
        }
    }

    private static void AppendString(StringBuilder xml, string value)
    {
        xml.Append("<value>");
        Escape(xml, value);
        xml.Append("</value>");
    }

    /// <summary>xmlrpc.ml encode_buf: &gt; &lt; &amp; " escaped, control characters other than tab/LF/CR dropped.</summary>
    public static void Escape(StringBuilder xml, string value)
    {
        ArgumentNullException.ThrowIfNull(xml);
        ArgumentNullException.ThrowIfNull(value);
        foreach (var c in value)
        {
            switch (c)
            {
                case '>':
                    xml.Append("&gt;");
                    break;
                case '<':
                    xml.Append("&lt;");
                    break;
                case '&':
                    xml.Append("&amp;");
                    break;
                case '"':
                    xml.Append("&quot;");
                    break;
                case < '\x20' and not ('\t' or '\n' or '\r'):
                    break;
                default:
                    xml.Append(c);
                    break;
            }
        }
    }

    /// <summary>%.16g, as xmlrpc.ml prints a Float.</summary>
    private static void AppendDouble(StringBuilder xml, double value)
    {
        var text = double.IsNaN(value) ? "nan"
            : double.IsInfinity(value) ? (value > 0 ? "inf" : "-inf")
            : value.ToString("G16", CultureInfo.InvariantCulture).Replace('E', 'e');
        xml.Append("<value><double>").Append(text).Append("</double></value>");
    }

    private static bool TryDouble(JsonValue value, out double result)
    {
        if (value.TryGetValue(out result)) return true;
        if (value.TryGetValue<long>(out var l))
        {
            result = l;
            return true;
        }

        return false;
    }
}
