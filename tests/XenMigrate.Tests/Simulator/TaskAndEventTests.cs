using System.Diagnostics;
using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Simulator;

/// <summary>Async calls, tasks with XML-RPC encoded results, and event.from.</summary>
public class TaskAndEventTests : SimulatorFixture
{
    [Test]
    public async Task AsyncSnapshot_TaskResultIsXmlEncodedRef()
    {
        var vm = (await SeedVmAsync(UniqueName("async"))).VmRef;

        var taskRef = await Xapi.CallForStringAsync("Async.VM.snapshot", vm, "async snapshot");
        var task = await Xapi.WaitForTaskAsync(taskRef);

        Assert.That((string?)task["status"], Is.EqualTo("success"));
        Assert.That((double)task["progress"]!, Is.EqualTo(1.0));
        Assert.That((string?)task["result"], Does.Match("^<value>OpaqueRef:[0-9a-f-]{36}</value>$"));
        var snapshot = ((string)task["result"]!)["<value>".Length..^"</value>".Length];
        Assert.That((string?)(await Xapi.RecordAsync("VM", snapshot))["snapshot_of"], Is.EqualTo(vm));
        Assert.That(await Xapi.CallForStringAsync("task.get_result", taskRef), Is.EqualTo((string?)task["result"]));
        Assert.That(await Xapi.CallForStringAsync("task.get_status", taskRef), Is.EqualTo("success"));
        Assert.That((double)(await Xapi.CallAsync("task.get_progress", taskRef))!, Is.EqualTo(1.0));
        await Xapi.CallAsync("task.destroy", taskRef);
        Assert.That((await Xapi.FailureAsync("task.get_record", taskRef)).Code, Is.EqualTo("HANDLE_INVALID"));
    }

    [Test]
    public async Task AsyncVoidCall_HasAnEmptyResult()
    {
        var vm = (await SeedVmAsync(UniqueName("void"))).VmRef;

        var task = await Xapi.WaitForTaskAsync(await Xapi.CallForStringAsync("Async.VM.hard_shutdown", vm));

        Assert.That((string?)task["status"], Is.EqualTo("success"));
        Assert.That((string?)task["result"], Is.EqualTo(""));
    }

    [Test]
    public async Task AsyncFailure_IsInTheTasksErrorInfo()
    {
        var vm = (await SeedVmAsync(UniqueName("fail"), "Halted")).VmRef;

        var taskRef = await Xapi.CallForStringAsync("Async.VM.clean_shutdown", vm);
        var task = await Xapi.WaitForTaskAsync(taskRef);

        Assert.That((string?)task["status"], Is.EqualTo("failure"));
        Assert.That(task["error_info"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "VM_BAD_POWER_STATE", vm, "running", "halted" }));
        Assert.That((await Xapi.CallAsync("task.get_error_info", taskRef))!.AsArray(), Has.Count.EqualTo(4));
    }

    [Test]
    public async Task AsyncCall_FailsAtOnce_OnlyForProtocolErrors()
    {
        var badSession = await Xapi.SendAsync(new JsonObject
        {
            ["jsonrpc"] = "2.0", ["method"] = "Async.VM.start", ["params"] = new JsonArray("OpaqueRef:nope", "x", false, false), ["id"] = 1,
        });
        var badCount = await Xapi.FailureAsync("Async.VM.start", "OpaqueRef:x");

        Assert.That((string?)badSession["error"]!["message"], Is.EqualTo("SESSION_INVALID"));
        Assert.That(badCount.Parameters, Is.EqualTo(new[] { "VM.start", "3", "1" }), "named without Async., counted without the session");
    }

    [Test]
    public async Task CreatedTask_CanBeCancelled()
    {
        var task = await Xapi.CallForStringAsync("task.create", "client task", "for a transfer");
        Assert.That(await Xapi.CallForStringAsync("task.get_status", task), Is.EqualTo("pending"));

        await Xapi.CallAsync("task.cancel", task);
        var record = await Xapi.RecordAsync("task", task);

        Assert.That((string?)record["status"], Is.EqualTo("cancelled"));
        Assert.That(record["error_info"]!.AsArray().Select(e => (string?)e), Is.EqualTo(new[] { "TASK_CANCELLED", task }));
        Assert.That((string?)record["name_label"], Is.EqualTo("client task"));
    }

    [Test]
    public async Task RunningAsyncOperation_CanBeCancelled()
    {
        var vm = (await SeedVmAsync(UniqueName("cancel"))).VmRef;
        Host.Faults.DelayNext("VM.hard_shutdown", TimeSpan.FromSeconds(5));

        var taskRef = await Xapi.CallForStringAsync("Async.VM.hard_shutdown", vm);
        await Task.Delay(100);
        await Xapi.CallAsync("task.cancel", taskRef);
        var task = await Xapi.WaitForTaskAsync(taskRef);

        Assert.That((string?)task["status"], Is.EqualTo("cancelled"));
        Assert.That(await Xapi.CallForStringAsync("VM.get_power_state", vm), Is.EqualTo("Running"));
        Assert.That((await Xapi.CallAsync("VM.get_current_operations", vm))!.AsObject(), Is.Empty);
    }

    [Test]
    public async Task EventFrom_EmptyToken_ReturnsEveryObjectAsAdd()
    {
        var batch = (await Xapi.CallAsync("event.from", new[] { "vm" }, "", 1.0))!;

        var events = batch["events"]!.AsArray();
        Assert.That(events.Select(e => (string?)e!["operation"]), Is.All.EqualTo("add"));
        Assert.That(events.Select(e => (string?)e!["class"]), Is.All.EqualTo("vm"));
        Assert.That(events.Select(e => (string?)e!["ref"]), Does.Contain(Host.ControlDomainRef));
        Assert.That((string?)batch["token"], Does.Match(@"^\d{20},\d{20}$"));
    }

    [Test]
    public async Task EventFrom_WaitsForTheNextChange()
    {
        var vm = (await SeedVmAsync(UniqueName("events"), "Halted")).VmRef;
        var token = (string)(await Xapi.CallAsync("event.from", new[] { "vm" }, "", 0.0))!["token"]!;

        var waiting = Xapi.CallAsync("event.from", new[] { "vm" }, token, 10.0);
        await Task.Delay(150);
        Assert.That(waiting.IsCompleted, Is.False, "nothing happened yet: the call long-polls");
        using var other = await XapiTestClient.LoginAsync(Host);
        await other.CallAsync("VM.start", vm, false, false);
        var batch = (await waiting)!;

        var mine = batch["events"]!.AsArray().Where(e => (string?)e!["ref"] == vm).ToList();
        Assert.That(mine, Is.Not.Empty);
        Assert.That((string?)mine[0]!["operation"], Is.EqualTo("mod"));
        Assert.That((string?)batch["token"], Is.Not.EqualTo(token));

        // As a client does: follow the tokens until the VM shows Running.
        var state = (string?)mine[^1]!["snapshot"]!["power_state"];
        for (var i = 0; i < 20 && state != "Running"; i++)
        {
            batch = (await Xapi.CallAsync("event.from", new[] { "vm" }, (string)batch["token"]!, 5.0))!;
            state = batch["events"]!.AsArray().Where(e => (string?)e!["ref"] == vm).Select(e => (string?)e!["snapshot"]!["power_state"]).LastOrDefault() ?? state;
        }

        Assert.That(state, Is.EqualTo("Running"));
    }

    [Test]
    public async Task EventFrom_TimesOutWithNoEvents()
    {
        var token = (string)(await Xapi.CallAsync("event.from", new[] { "vm" }, "", 0.0))!["token"]!;
        var clock = Stopwatch.StartNew();

        var batch = (await Xapi.CallAsync("event.from", new[] { "vm" }, token, 0.3))!;

        Assert.That(batch["events"]!.AsArray(), Is.Empty);
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)));
        Assert.That(batch["valid_ref_counts"]!["vm"], Is.Not.Null);
    }

    [Test]
    public async Task EventFrom_ReportsTasksAndDeletions()
    {
        var token = (string)(await Xapi.CallAsync("event.from", new[] { "task", "vm" }, "", 0.0))!["token"]!;
        var seeded = await SeedVmAsync(UniqueName("deleted"), "Halted", dataBytes: 0);
        var taskRef = await Xapi.CallForStringAsync("Async.VM.destroy", seeded.VmRef);
        await Xapi.WaitForTaskAsync(taskRef);

        var events = (await Xapi.CallAsync("event.from", new[] { "task", "vm" }, token, 1.0))!["events"]!.AsArray();

        var task = events.Where(e => (string?)e!["ref"] == taskRef).ToList();
        Assert.That(task, Is.Not.Empty);
        Assert.That((string?)task[^1]!["class"], Is.EqualTo("task"));
        Assert.That((string?)task[^1]!["snapshot"]!["status"], Is.EqualTo("success"));
        var vm = events.Where(e => (string?)e!["ref"] == seeded.VmRef).ToList();
        Assert.That((string?)vm[^1]!["operation"], Is.EqualTo("del"));
    }

    [Test]
    public async Task EventFrom_BadToken_IsRefused()
    {
        var failure = await Xapi.FailureAsync("event.from", new[] { "vm" }, "token0", 0.0);

        Assert.That(failure.Code, Is.EqualTo("EVENT_FROM_TOKEN_PARSE_FAILURE"));
    }
}
