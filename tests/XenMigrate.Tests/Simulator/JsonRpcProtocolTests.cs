using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Simulator;

/// <summary>The JSON-RPC wire protocol of xapi (ocaml/xapi/api_server.ml, jsonrpc) as the simulator speaks it.</summary>
public class JsonRpcProtocolTests : SimulatorFixture
{
    [Test]
    public async Task Version2_RequestGetsA2Reply_WithResultAndId()
    {
        var reply = await Xapi.SendAsync(new JsonObject
        {
            ["jsonrpc"] = "2.0", ["method"] = "pool.get_all", ["params"] = new JsonArray(Xapi.Session), ["id"] = 7,
        });

        Assert.That(reply.Select(p => p.Key), Is.EquivalentTo(new[] { "jsonrpc", "result", "id" }));
        Assert.That((string?)reply["jsonrpc"], Is.EqualTo("2.0"));
        Assert.That((int)reply["id"]!, Is.EqualTo(7));
        Assert.That(reply["result"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Version1_RequestGetsA1Reply_WithNullError()
    {
        var reply = await Xapi.SendAsync(new JsonObject
        {
            ["method"] = "pool.get_all", ["params"] = new JsonArray(Xapi.Session), ["id"] = "x",
        });

        Assert.That(reply.Select(p => p.Key), Is.EquivalentTo(new[] { "result", "error", "id" }));
        Assert.That(reply["error"], Is.Null);
        Assert.That((string?)reply["id"], Is.EqualTo("x"));
    }

    [Test]
    public async Task Errors_HaveXapisShapes_InBothVersions()
    {
        const string missing = "OpaqueRef:00000000-0000-0000-0000-000000000001";
        var v2 = await Xapi.SendAsync(new JsonObject
        {
            ["jsonrpc"] = "2.0", ["method"] = "VM.get_record", ["params"] = new JsonArray(Xapi.Session, missing), ["id"] = 1,
        });
        var v1 = await Xapi.SendAsync(new JsonObject
        {
            ["method"] = "VM.get_record", ["params"] = new JsonArray(Xapi.Session, missing), ["id"] = 1,
        });

        Assert.That(v2.Select(p => p.Key), Is.EquivalentTo(new[] { "jsonrpc", "error", "id" }));
        Assert.That(v2["error"]!.ToJsonString(), Is.EqualTo($$"""{"code":1,"message":"HANDLE_INVALID","data":["VM","{{missing}}"]}"""));
        Assert.That(v1["result"], Is.Null);
        Assert.That(v1["error"]!.ToJsonString(), Is.EqualTo($"""["HANDLE_INVALID","VM","{missing}"]"""));
    }

    [TestCase("this is not json", TestName = "Malformed: not JSON")]
    [TestCase("""["an","array"]""", TestName = "Malformed: not an object")]
    [TestCase("""{"jsonrpc":"1.0","method":"pool.get_all","params":[],"id":1}""", TestName = "Malformed: jsonrpc other than 2.0")]
    [TestCase("""{"jsonrpc":"2.0","method":"pool.get_all","params":[]}""", TestName = "Malformed: no id")]
    [TestCase("""{"jsonrpc":"2.0","method":"pool.get_all","params":[],"id":null}""", TestName = "Malformed: null id")]
    [TestCase("""{"method":"pool.get_all","id":1}""", TestName = "Malformed: v1 without params")]
    [TestCase("""{"jsonrpc":"2.0","method":"pool.get_all","params":{"a":1},"id":1}""", TestName = "Malformed: params not an array")]
    [TestCase("""{"jsonrpc":"2.0","method":42,"params":[],"id":1}""", TestName = "Malformed: method not a string")]
    public async Task MalformedRequests_GetHttp500WithHtml(string body)
    {
        using var response = await Xapi.PostRawAsync(body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.StartWith("<html>"));
    }

    [Test]
    public async Task Version2_ToleratesMissingParams()
    {
        var reply = await Xapi.SendAsync(new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "pool.get_all", ["id"] = 3 });

        // No session among no params: the count check answers, not a transport error.
        Assert.That((string?)reply["error"]!["message"], Is.EqualTo("MESSAGE_PARAMETER_COUNT_MISMATCH"));
    }

    [Test]
    public async Task UnknownMethod_IsMessageMethodUnknown()
    {
        var error = await Xapi.FailureAsync("VM.teleport");
        var noClass = await Xapi.FailureAsync("Spaceship.get_all");
        var lowercaseClass = await Xapi.FailureAsync("vm.get_all");

        Assert.That(error.Code, Is.EqualTo("MESSAGE_METHOD_UNKNOWN"));
        Assert.That(error.Parameters, Is.EqualTo(new[] { "VM.teleport" }));
        Assert.That(noClass.Code, Is.EqualTo("MESSAGE_METHOD_UNKNOWN"));
        Assert.That(lowercaseClass.Code, Is.EqualTo("MESSAGE_METHOD_UNKNOWN"), "xapi matches method names exactly");
    }

    [Test]
    public async Task AsyncExists_ForOperationsButNotForFieldAccessors()
    {
        var accessor = await Xapi.FailureAsync("Async.VM.get_record", Host.ControlDomainRef);
        var task = await Xapi.CallForStringAsync("Async.VM.snapshot", Host.ControlDomainRef, "dom0 snapshot");

        // server_helpers.ml do_dispatch: the call is found (without its prefix), then refused as a fault.
        Assert.That(accessor.Code, Is.EqualTo("Fault"));
        Assert.That(accessor.Parameters, Is.EqualTo(new[] { "No async mode for this operation (rpc: VM.get_record)" }));
        Assert.That(task, Does.StartWith("OpaqueRef:"));
        Assert.That((string?)(await Xapi.WaitForTaskAsync(task))["status"], Is.EqualTo("success"));
    }

    [Test]
    public async Task ParameterCount_IsCheckedAgainstTheDataModel()
    {
        var tooMany = await Xapi.FailureAsync("VM.get_record", Host.ControlDomainRef, "extra");
        var tooFew = await Xapi.FailureAsync("VM.start", Host.ControlDomainRef);

        // gen_server.ml: [method, expected, received], both without the session (VM.get_record takes self).
        Assert.That(tooMany.Code, Is.EqualTo("MESSAGE_PARAMETER_COUNT_MISMATCH"));
        Assert.That(tooMany.Parameters, Is.EqualTo(new[] { "VM.get_record", "1", "2" }));
        Assert.That(tooFew.Parameters, Is.EqualTo(new[] { "VM.start", "3", "1" }));
    }

    [Test]
    public async Task ShortestForms_AreAccepted_WithDefaultsFilledIn()
    {
        // VM.snapshot without ignore_vdis (21.4.0) and login without version/originator.
        var snapshot = await Xapi.CallForStringAsync("VM.snapshot", Host.ControlDomainRef, "short form");
        var fullForm = await Xapi.CallForStringAsync("VM.snapshot", Host.ControlDomainRef, "full form", Array.Empty<string>());
        var session = await Xapi.CallWithoutSessionAsync("session.login_with_password", Host.Username, Host.Password);

        Assert.That(snapshot, Does.StartWith("OpaqueRef:"));
        Assert.That(fullForm, Does.StartWith("OpaqueRef:"));
        Assert.That((string?)session, Does.StartWith("OpaqueRef:"));
        // A message with defaulted parameters matches "vm :: name :: default_args" in gen_server.ml:
        // parameters beyond the ones it knows are ignored, not refused.
        var tooLong = await Xapi.CallForStringAsync("VM.snapshot", Host.ControlDomainRef, "too long", Array.Empty<string>(), "extra");
        Assert.That(tooLong, Does.StartWith("OpaqueRef:"));
        // One without defaults takes exactly its parameters.
        var exact = await Xapi.FailureAsync("VM.get_uuid", Host.ControlDomainRef, "extra");
        Assert.That(exact.Parameters, Is.EqualTo(new[] { "VM.get_uuid", "1", "2" }));
    }

    [Test]
    public async Task Ints_AreJsonNumbers_AndDecimalStringsAreAccepted()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync(UniqueName("ints"), 256 * MiB, 4 * MiB);

        await Xapi.CallAsync("VM.set_VCPUs_max", vm, "4");
        var max = await Xapi.CallAsync("VM.get_VCPUs_max", vm);

        Assert.That(max!.GetValueKind(), Is.EqualTo(JsonValueKind.Number));
        Assert.That((long)max, Is.EqualTo(4));
        var wrongType = await Xapi.FailureAsync("VM.set_VCPUs_max", vm, true);
        Assert.That(wrongType.Code, Is.EqualTo("FIELD_TYPE_ERROR"));
    }

    [Test]
    public async Task VoidResults_AreEmptyStrings()
    {
        var result = await Xapi.CallAsync("VM.add_to_other_config", Host.ControlDomainRef, UniqueName("k"), "v");

        Assert.That((string?)result, Is.EqualTo(""));
    }

    [Test]
    public async Task OptionsRequest_AnswersCors()
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/jsonrpc");
        using var response = await Xapi.Http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("Access-Control-Allow-Origin"), Does.Contain("*"));
    }
}
