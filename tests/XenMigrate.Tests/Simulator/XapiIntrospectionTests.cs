using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// system.listMethods (gen_server.ml ~488-505), the hidden get_all_where / get_all_records_where
/// with xapi's expression language (db_filter*.ml), event.inject and the legacy event.next (xapi_event.ml).
/// </summary>
public class XapiIntrospectionTests : SimulatorFixture
{
    [Test]
    public async Task ListMethods_NeedsNoSession_AndListsEverySyncWireName()
    {
        var methods = (await Xapi.CallWithoutSessionAsync("system.listMethods"))!.AsArray().Select(m => (string)m!).ToList();

        Assert.That(methods, Does.Contain("session.login_with_password"));
        Assert.That(methods, Does.Contain("VM.get_record").And.Contain("VM.set_name_label").And.Contain("VM.add_to_other_config"));
        Assert.That(methods, Does.Contain("VM.get_all_records_where").And.Contain("host.get_all_where"), "hidden implicit messages");
        Assert.That(methods, Does.Contain("VTPM.get_contents"), "hidden messages of xapi-hidden-messages.json");
        Assert.That(methods, Does.Contain("event.inject").And.Contain("event.from"));
        Assert.That(methods, Has.None.StartsWith("Async."), "sync names only");
        Assert.That(methods, Has.None.EqualTo("session.get_all_records_where"), "session has no get_all_records");
        Assert.That(methods, Is.Unique);
        Assert.That(methods, Has.Count.EqualTo(XapiDataModel.Instance.WireNames.Count));
        // Xen Orchestra lists the types it caches from the get_all_records among them.
        Assert.That(methods.Where(m => m.EndsWith(".get_all_records", StringComparison.Ordinal)).Select(m => m[..m.IndexOf('.')]),
            Does.Contain("VM").And.Contain("pool").And.Contain("task"));
    }

    [Test]
    public async Task IsAlive_EchoesItsFirstParameter()
    {
        var echo = await Xapi.CallWithoutSessionAsync("system.isAlive:probe", "hello");

        Assert.That((string?)echo, Is.EqualTo("hello"));
    }

    [Test]
    public async Task GetAllRecordsWhere_FiltersOnDatabaseColumnNames()
    {
        var name = UniqueName("where");
        var running = await SeedVmAsync(name, memoryBytes: 256 * MiB);
        var halted = await SeedVmAsync(name, "Halted", memoryBytes: 256 * MiB);

        var byName = (await Xapi.CallAsync("VM.get_all_records_where", $"field \"name__label\"=\"{name}\""))!.AsObject();
        var runningOnly = (await Xapi.CallAsync("VM.get_all_records_where",
            $"field \"name__label\"=\"{name}\" and not field \"power_state\"=\"Halted\""))!.AsObject();
        var byMemory = (await Xapi.CallAsync("VM.get_all_where",
            $"field \"memory__static_max\"=\"{256 * MiB}\" and field \"name__label\"=\"{name}\""))!.AsArray();
        var byRef = (await Xapi.CallAsync("VM.get_all_where", $"field \"_ref\"=\"{halted.VmRef}\""))!.AsArray();
        var none = (await Xapi.CallAsync("VM.get_all_records_where", "false"))!.AsObject();
        var all = (await Xapi.CallAsync("VM.get_all_records_where", "true"))!.AsObject();

        Assert.That(byName.Select(p => p.Key), Is.EquivalentTo(new[] { running.VmRef, halted.VmRef }));
        Assert.That((string?)byName[running.VmRef]!["name_label"], Is.EqualTo(name), "whole records");
        Assert.That(runningOnly.Select(p => p.Key), Is.EqualTo(new[] { running.VmRef }));
        Assert.That(byMemory.Select(r => (string?)r), Is.EquivalentTo(new[] { running.VmRef, halted.VmRef }));
        Assert.That(byRef.Select(r => (string?)r), Is.EqualTo(new[] { halted.VmRef }));
        Assert.That(none, Is.Empty);
        Assert.That(all.Count, Is.EqualTo((await Xapi.CallAsync("VM.get_all"))!.AsArray().Count));
    }

    [Test]
    public async Task GetAllRecordsWhere_ComparesTheDatabasesTextOfAValue()
    {
        var seeded = await SeedVmAsync(UniqueName("text"));
        await Xapi.CallAsync("VM.add_to_other_config", seeded.VmRef, "it's", "a\\b");
        var record = await Xapi.RecordAsync("VM", seeded.VmRef);
        var map = "(" + string.Join(' ', record["other_config"]!.AsObject()
            .Select(p => $"('{Quote(p.Key)}' '{Quote((string)p.Value!)}')")) + ")";

        var byBool = (await Xapi.CallAsync("VM.get_all_where", $"field \"is_a_template\"=\"false\" and field \"uuid\"=\"{seeded.VmUuid}\""))!.AsArray();
        var byMap = (await Xapi.CallAsync("VM.get_all_where", $"field \"other_config\"=\"{map}\""))!.AsArray();
        var bySet = (await Xapi.CallAsync("VM.get_all_where", $"field \"VBDs\"=\"('{seeded.VbdRef}')\""))!.AsArray();

        Assert.That(byBool.Select(r => (string?)r), Is.EqualTo(new[] { seeded.VmRef }));
        Assert.That(byMap.Select(r => (string?)r), Is.EqualTo(new[] { seeded.VmRef }), $"sExpr.ml: {map}");
        Assert.That(bySet.Select(r => (string?)r), Is.EqualTo(new[] { seeded.VmRef }));

        static string Quote(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);
    }

    [TestCase("field \"name__label\"=", "Xapi_database__Db_filter_parse.MenhirBasics.Error")]
    [TestCase("true true", "Xapi_database__Db_filter_parse.MenhirBasics.Error")]
    [TestCase("field \"x\"=\"y", "Failure(\"lexing: empty token\")")]
    [TestCase("name_label = 'x'", "Failure(\"lexing: empty token\")")]
    public async Task GetAllRecordsWhere_BadExpression_IsInvalidValue(string expression, string exception)
    {
        var failure = await Xapi.FailureAsync("VM.get_all_records_where", expression);

        // exnHelper.ml: Db_filter.Expression_error (expr, exn) -> INVALID_VALUE [expr; exn]
        Assert.That(failure.Code, Is.EqualTo("INVALID_VALUE"));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { expression, exception }));
    }

    [Test]
    public async Task GetAllRecordsWhere_UnknownColumn_IsAMissingField_WhenLookedAt()
    {
        var failure = await Xapi.FailureAsync("VM.get_all_records_where", "field \"name_label\"=\"x\"");
        var shortCircuit = (await Xapi.CallAsync("VM.get_all_records_where", "false and field \"name_label\"=\"x\""))!.AsObject();

        // The wire name is not the column (name__label): Db_exn.DBCache_NotFound ("missing field", …).
        Assert.That(failure.Code, Is.EqualTo("INTERNAL_ERROR"));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { "missing field", "name_label", "" }));
        Assert.That(shortCircuit, Is.Empty);
    }

    [TestCase("not false and false", true, TestName = "Filter: not takes the rest of the chain")]
    [TestCase("false and false or true", true, TestName = "Filter: and/or left to right")]
    [TestCase("true or true and false", false, TestName = "Filter: or then and, left to right")]
    [TestCase("true and not false or true", false, TestName = "Filter: not inside a chain")]
    [TestCase("(not false) and false", false, TestName = "Filter: parentheses")]
    [TestCase("\"a\"=\"a\"", true, TestName = "Filter: literals compare")]
    [TestCase(" \t\ntrue", true, TestName = "Filter: blanks")]
    public void Filter_Precedence_IsThatOfDbFilterParse(string expression, bool expected)
    {
        var filter = DbFilter.Parse(expression);

        Assert.That(filter.Matches(null!), Is.EqualTo(expected));
    }

    [Test]
    public async Task EventInject_ReturnsATokenTheNextEventFromReportsTheObjectAfter()
    {
        var pool = (string)(await Xapi.CallAsync("pool.get_all"))![0]!;
        var token = await Xapi.CallForStringAsync("event.inject", "pool", pool);
        var batch = (await Xapi.CallAsync("event.from", new[] { "pool" }, token, 5.0))!.AsObject();

        Assert.That(token, Does.Match("^[0-9]{20},[0-9]{20}$"));
        var ev = batch["events"]!.AsArray().Single()!;
        Assert.That((string?)ev["ref"], Is.EqualTo(pool));
        Assert.That((string?)ev["class"], Is.EqualTo("pool"));
        Assert.That((string?)ev["operation"], Is.EqualTo("mod"));
        Assert.That(string.CompareOrdinal((string)batch["token"]!, token), Is.GreaterThan(0));
        // Every table's count, whatever the subscription (xapi_event.ml from_inner).
        Assert.That(batch["valid_ref_counts"]!.AsObject().Select(p => p.Key), Does.Contain("vm").And.Contain("task").And.Contain("session"));
    }

    [Test]
    public async Task EventInject_RefMustBeARowOfThatTable()
    {
        var pool = (string)(await Xapi.CallAsync("pool.get_all"))![0]!;

        var wrongTable = await Xapi.FailureAsync("event.inject", "VM", pool);
        var lowerCase = await Xapi.FailureAsync("event.inject", "vm", Host.ControlDomainRef);
        var unknown = await Xapi.FailureAsync("event.inject", "pool", "OpaqueRef:nothing");

        Assert.That(wrongTable.Parameters, Is.EqualTo(new[] { "VM", pool }));
        Assert.That(lowerCase.Code, Is.EqualTo("HANDLE_INVALID"), "the table is named as the database names it (VM)");
        Assert.That(unknown.Code, Is.EqualTo("HANDLE_INVALID"));
    }

    [Test]
    public async Task EventNext_DeliversTheChangesOfARegisteredSession()
    {
        using var client = await XapiTestClient.LoginAsync(Host);
        var unregistered = await client.FailureAsync("event.next");
        await client.CallAsync("event.register", (object)new[] { "vm" });
        var vm = (await SeedVmAsync(UniqueName("next"), "Halted")).VmRef;

        var events = (await client.CallAsync("event.next"))!.AsArray();
        await client.CallAsync("VM.set_name_description", vm, "changed");
        var next = (await client.CallAsync("event.next"))!.AsArray();
        await client.CallAsync("event.unregister", (object)new[] { "vm" });

        Assert.That(unregistered.Code, Is.EqualTo("SESSION_NOT_REGISTERED"));
        Assert.That(unregistered.Parameters.Single(), Does.Match("^trackid=[0-9a-f]{32}$"));
        Assert.That(events.Select(e => ((string?)e!["class"], (string?)e["ref"], (string?)e["operation"])), Does.Contain(("vm", vm, "add")));
        var change = next.Single(e => (string?)e!["ref"] == vm)!;
        Assert.That((string?)change["operation"], Is.EqualTo("mod"));
        Assert.That((string?)change["snapshot"]!["name_description"], Is.EqualTo("changed"));
        Assert.That((string?)change["id"], Does.Match("^[0-9]+$"));
    }
}
