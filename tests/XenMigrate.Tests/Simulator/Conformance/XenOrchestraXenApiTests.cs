using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator.Conformance;

/// <summary>
/// Conformance: Xen Orchestra's own XAPI connector, npm <c>xen-api</c> 4.7.6 (tests/conformance/xo,
/// installed by <c>npm ci</c>), drives a simulated host as XO does. It logs in, reads the pool,
/// lists the types with system.listMethods, starts its event loop from event.inject's token,
/// caches every get_all_records, sees a change through event.from, decodes a callAsync task
/// result, downloads a VHD from <c>/export_raw_vdi/</c> (its path, trailing slash included) and
/// uploads it with putResource (probing for a redirect first). The disk it uploaded into must
/// then hold exactly the source's bytes.
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class XenOrchestraXenApiTests : SimulatorFixture
{
    private static string ScriptDirectory => Path.Combine(Repository.Root, "tests", "conformance", "xo");

    [Test]
    public async Task XenOrchestraXenApi_ConnectsWatchesEventsCallsAsyncAndMovesAVhd()
    {
        var node = TestEnvironment.FindOnPath("node");
        TestEnvironment.Require(node is not null, "node (for Xen Orchestra's npm xen-api)");
        TestEnvironment.Require(File.Exists(Path.Combine(ScriptDirectory, "node_modules", "xen-api", "package.json")),
            "npm xen-api 4.7.6 in tests/conformance/xo (npm ci there)");

        var seeded = await SeedVmAsync(UniqueName("xo"), "Halted", diskBytes: 8 * MiB, dataBytes: 3 * MiB);
        var target = await Xapi.CreateVdiAsync(UniqueName("xo-target"), 8 * MiB);
        var work = Directory.CreateTempSubdirectory("xo-conformance-");
        try
        {
            var (exit, lines, stdout, stderr) = await ConformanceProcess.RunAsync(node!, ScriptDirectory, ["conformance.mjs"],
                new Dictionary<string, string>
                {
                    ["XAPI_URL"] = Host.Url,
                    ["XAPI_USER"] = Host.Username,
                    ["XAPI_PASSWORD"] = Host.Password,
                    ["VM_NAME"] = Host.Database.GetRecord(seeded.VmRef)!["name_label"]!.GetValue<string>(),
                    ["SOURCE_VDI"] = seeded.VdiRef,
                    ["TARGET_VDI"] = target,
                    ["WORK_DIR"] = work.FullName,
                }, TimeSpan.FromSeconds(120));

            Assert.That(exit, Is.Zero, $"xen-api failed:\nstdout:\n{stdout}\nstderr:\n{stderr}");
            var connect = ConformanceProcess.Step(lines, "connect", stdout, stderr);
            Assert.That((string?)connect["status"], Is.EqualTo("connected"));
            Assert.That((string?)connect["pool"], Is.EqualTo(Host.PoolRef));
            Assert.That((int)connect["vms"]!, Is.GreaterThan(1), "the VM cache was filled through get_all_records");

            var ev = ConformanceProcess.Step(lines, "event", stdout, stderr);
            Assert.That((string?)ev["vm"], Is.EqualTo(seeded.VmRef));
            Assert.That((string?)Host.Database.GetRecord(seeded.VmRef)!["name_description"], Is.EqualTo((string?)ev["name_description"]));

            var callAsync = ConformanceProcess.Step(lines, "callAsync", stdout, stderr);
            Assert.That((string?)callAsync["result"], Does.StartWith("OpaqueRef:"));
            Assert.That((bool)callAsync["is_a_snapshot"]!, Is.True);
            Assert.That((string?)callAsync["snapshot_of"], Is.EqualTo(seeded.VmRef));

            var get = ConformanceProcess.Step(lines, "getResource", stdout, stderr);
            Assert.That((int)get["statusCode"]!, Is.EqualTo(200));
            Assert.That(get["transferEncoding"], Is.Null, "a close-delimited body has no Transfer-Encoding header (http.ml)");
            Assert.That(get["contentLength"], Is.Null);
            Assert.That((long)get["bytes"]!, Is.GreaterThan(3 * MiB));

            ConformanceProcess.Step(lines, "putResource", stdout, stderr);
            ConformanceProcess.Step(lines, "done", stdout, stderr);
            Assert.That(Host.Control.GetDiskSha256(target), Is.EqualTo(Host.Control.GetDiskSha256(seeded.VdiRef)));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
