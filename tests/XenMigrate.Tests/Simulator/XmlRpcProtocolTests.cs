using System.Net;
using System.Text;
using System.Xml.Linq;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// XML-RPC on POST / and /RPC2 (xapi.ml ~868, api_server.ml callback) as raw XML over HTTP: the
/// Status/Value/ErrorDescription struct, ocaml-rpc's encoding (ints as bare text, booleans,
/// doubles, dateTime.iso8601), ints accepted as int/i4/i8/string, one session for both protocols.
/// </summary>
public class XmlRpcProtocolTests : SimulatorFixture
{
    [Test]
    public async Task Login_OverRpc2_AnswersTextXmlWithTheStatusStruct()
    {
        using var response = await PostAsync("/RPC2", Call("session.login_with_password", Str(Host.Username), Str(Host.Password), Str("1.0"), Str("xml")));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/xml"));
        Assert.That(body, Does.StartWith("<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>" +
                                         "<member><name>Status</name><value>Success</value></member><member><name>Value</name><value>OpaqueRef:"));
        var session = Value(body);
        Assert.That((string?)await Xapi.CallWithoutSessionAsync("session.get_this_host", session, session), Is.EqualTo(Host.HostRef),
            "an XML-RPC session works over JSON-RPC");
    }

    [Test]
    public async Task Records_EncodeIntsAsText_BooleansDoublesAndDatetimesTyped()
    {
        var seeded = await SeedVmAsync(UniqueName("xml"), memoryBytes: 256 * MiB);
        var xml = await CallAsync("/", "VM.get_record", Str(Xapi.Session), Str(seeded.VmRef));
        var record = Members(Result(xml));
        var metrics = Members(Result(await CallAsync("/", "VM_metrics.get_record", Str(Xapi.Session),
            Str((string)(await Xapi.CallAsync("VM.get_metrics", seeded.VmRef))!))));

        Assert.That(record["memory_static_max"].ToString(SaveOptions.DisableFormatting), Is.EqualTo($"<value>{256 * MiB}</value>"), "ints: bare text");
        Assert.That(record["is_a_template"].ToString(SaveOptions.DisableFormatting), Is.EqualTo("<value><boolean>0</boolean></value>"));
        Assert.That(record["HVM_shadow_multiplier"].Element("double")?.Value, Is.EqualTo("1"), "%.16g");
        Assert.That(record["other_config"].Element("struct"), Is.Not.Null);
        Assert.That(record["VBDs"].Element("array")?.Element("data")?.Elements("value").Select(v => v.Value), Does.Contain(seeded.VbdRef));
        Assert.That(metrics["start_time"].Element("dateTime.iso8601")?.Value, Does.Match(@"^\d{8}T\d\d:\d\d:\d\dZ$"));
    }

    [TestCase("<int>3</int>")]
    [TestCase("<i4>3</i4>")]
    [TestCase("<i8>3</i8>")]
    [TestCase("<string>3</string>")]
    [TestCase("3")]
    public async Task IntParameters_AreAcceptedInEveryForm(string encoded)
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("int"), 256 * MiB, 4 * MiB, vcpus: 4);

        await CallAsync("/", "VM.set_VCPUs_at_startup", Str(Xapi.Session), Str(vm), $"<value>{encoded}</value>");

        Assert.That((long)(await Xapi.CallAsync("VM.get_VCPUs_at_startup", vm))!, Is.EqualTo(3));
    }

    [Test]
    public async Task Failures_AreTheErrorDescriptionArray()
    {
        var body = await CallAsync("/RPC2", "VM.get_record", Str(Xapi.Session), Str("OpaqueRef:missing"));

        var status = Envelope(body);
        Assert.That(status["Status"].Value, Is.EqualTo("Failure"));
        Assert.That(status["ErrorDescription"].Element("array")!.Element("data")!.Elements("value").Select(v => v.Value),
            Is.EqualTo(new[] { "HANDLE_INVALID", "VM", "OpaqueRef:missing" }));
    }

    [Test]
    public async Task VoidResults_AreEmptyValues_AndAsyncGivesATask()
    {
        var vm = (await SeedVmAsync(UniqueName("void"), "Halted")).VmRef;
        var set = await CallAsync("/", "VM.set_name_description", Str(Xapi.Session), Str(vm), Str("<&>\"'"));
        var task = Value(await CallAsync("/", "Async.VM.clone", Str(Xapi.Session), Str(vm), Str("clone")))!;

        Assert.That(set, Does.Contain("<member><name>Value</name><value></value></member>"));
        Assert.That(await Xapi.CallForStringAsync("VM.get_name_description", vm), Is.EqualTo("<&>\"'"));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(task))["result"], Does.Match("^<value>OpaqueRef:.*</value>$"));
    }

    [Test]
    public async Task ListMethods_IsAnsweredBare()
    {
        var body = await CallAsync("/RPC2", "system.listMethods");

        Assert.That(body, Does.StartWith("<?xml version=\"1.0\"?><methodResponse><params><param><value><array><data>"));
        Assert.That(XDocument.Parse(body).Descendants("value").Select(v => v.Value), Does.Contain("VM.get_all_records"));
    }

    [TestCase("/xmlrpc")]
    [TestCase("/json")]
    [TestCase("/RPC2/anything")]
    public async Task AnyPostPath_ReachesXmlRpc_ByLongestPrefix(string path)
    {
        var body = await CallAsync(path, "session.login_with_password", Str(Host.Username), Str(Host.Password));

        Assert.That(Value(body), Does.StartWith("OpaqueRef:"));
    }

    [Test]
    public async Task NotXmlRpc_IsAnHttp500Page()
    {
        using var response = await PostAsync("/", "{\"method\":\"pool.get_all\"}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
    }

    private static string Str(string value) => $"<value><string>{System.Security.SecurityElement.Escape(value)}</string></value>";

    private static string Call(string method, params string[] values) =>
        $"<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n<params>\n" +
        string.Concat(values.Select(v => $"<param>\n{v}\n</param>\n")) + "</params>\n</methodCall>\n";

    private Task<HttpResponseMessage> PostAsync(string path, string body) =>
        Xapi.Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "text/xml"));

    private async Task<string> CallAsync(string path, string method, params string[] values)
    {
        using var response = await PostAsync(path, Call(method, values));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The response's Status struct: Status and Value, or Status and ErrorDescription.</summary>
    private static Dictionary<string, XElement> Envelope(string body) =>
        Members(XDocument.Parse(body).Root!.Element("params")!.Element("param")!.Element("value")!);

    /// <summary>The &lt;value&gt; of a successful response.</summary>
    private static XElement Result(string body)
    {
        var envelope = Envelope(body);
        Assert.That(envelope["Status"].Value, Is.EqualTo("Success"), body);
        return envelope["Value"];
    }

    private static string Value(string body) => Result(body).Value;

    private static Dictionary<string, XElement> Members(XElement value) =>
        value.Element("struct")!.Elements("member").ToDictionary(m => m.Element("name")!.Value, m => m.Element("value")!);
}
