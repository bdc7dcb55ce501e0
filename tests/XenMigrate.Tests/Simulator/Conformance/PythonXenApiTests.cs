using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Simulator.Conformance;

/// <summary>
/// Conformance: the official Python binding <c>XenAPI.py</c> (Debian python3-os-xenapi, run by
/// /usr/bin/python3; tests/conformance/python/xenapi_conformance.py) over XML-RPC on /RPC2: it
/// logs in, reads the pool's API version, VM.get_all_records (ints arrive as strings, booleans as
/// booleans), the hidden VM.get_all_records_where, awaits an Async.VM.snapshot through its task,
/// calls event.from and gets a XAPI failure as XenAPI.Failure.
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class PythonXenApiTests : SimulatorFixture
{
    private const string Python = "/usr/bin/python3";
    private const string Binding = "/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py";

    private static string ScriptDirectory => Path.Combine(Repository.Root, "tests", "conformance", "python");

    [Test]
    public async Task PythonXenApi_LogsInReadsRecordsAndAwaitsAnAsyncCall()
    {
        TestEnvironment.Require(File.Exists(Python) && File.Exists(Binding), "XenAPI.py for /usr/bin/python3 (Debian python3-os-xenapi)");
        var seeded = await SeedVmAsync(UniqueName("py"), memoryBytes: 512 * MiB);
        var name = Host.Database.GetRecord(seeded.VmRef)!["name_label"]!.GetValue<string>();

        var (exit, lines, stdout, stderr) = await ConformanceProcess.RunAsync(Python, ScriptDirectory, ["xenapi_conformance.py"],
            new Dictionary<string, string>
            {
                ["XAPI_URL"] = Host.Url,
                ["XAPI_USER"] = Host.Username,
                ["XAPI_PASSWORD"] = Host.Password,
                ["VM_NAME"] = name,
            }, TimeSpan.FromSeconds(60));

        Assert.That(exit, Is.Zero, $"XenAPI.py failed:\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var login = ConformanceProcess.Step(lines, "login", stdout, stderr);
        Assert.That((string?)login["session"], Does.StartWith("OpaqueRef:"));
        Assert.That((string?)login["api_version"], Is.EqualTo($"{Host.Options.ApiVersionMajor}.{Host.Options.ApiVersionMinor}"));

        var records = ConformanceProcess.Step(lines, "get_all_records", stdout, stderr);
        Assert.That((string?)records["vm"], Is.EqualTo(seeded.VmRef));
        Assert.That((string?)records["memory_static_max"], Is.EqualTo(XapiTestClient.Bytes(512 * MiB)), "64-bit ints travel as strings");
        Assert.That((string?)records["memory_type"], Is.EqualTo("str"));
        Assert.That((string?)records["is_a_template_type"], Is.EqualTo("bool"));
        Assert.That((string?)records["power_state"], Is.EqualTo("Running"));

        var where = ConformanceProcess.Step(lines, "get_all_records_where", stdout, stderr);
        Assert.That(where["refs"]!.AsArray().Select(r => (string?)r), Is.EqualTo(new[] { seeded.VmRef }));

        var async = ConformanceProcess.Step(lines, "async", stdout, stderr);
        Assert.That((string?)async["status"], Is.EqualTo("success"));
        Assert.That((string?)async["snapshot"], Does.StartWith("OpaqueRef:"));
        Assert.That((string?)async["snapshot_of"], Is.EqualTo(seeded.VmRef));

        var events = ConformanceProcess.Step(lines, "event_from", stdout, stderr);
        Assert.That((int)events["events"]!, Is.GreaterThan(0));
        Assert.That((string?)events["count_type"], Is.EqualTo("int"), "valid_ref_counts are Int32 (<i4>) on the wire");

        var failure = ConformanceProcess.Step(lines, "failure", stdout, stderr);
        Assert.That(failure["details"]!.AsArray().Select(d => (string?)d), Is.EqualTo(new[] { "HANDLE_INVALID", "VM", "OpaqueRef:nonexistent" }));
        ConformanceProcess.Step(lines, "done", stdout, stderr);
    }
}
