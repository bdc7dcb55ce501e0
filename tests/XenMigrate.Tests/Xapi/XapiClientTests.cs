using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Xapi;

/// <summary>The XAPI client against a simulated host over real JSON-RPC on loopback.</summary>
public class XapiClientTests
{
    private SimulatedHost _host = null!;
    private XapiHostOptions _options = null!;
    private SeededVm _vm = null!;

    [OneTimeSetUp]
    public async Task StartHost()
    {
        _host = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "xs-client", Password = "s3cret-pw" });
        _options = new XapiHostOptions { Name = _host.Name, Url = _host.Url, Username = _host.Username, Password = _host.Password };
        _vm = await _host.Control.SeedVmAsync(new SeedVmSpec { Name = "client-vm", MemoryBytes = 2048L << 20, Vcpus = 2, DiskBytes = 64L << 20, DataBytes = 4L << 20 });
    }

    [OneTimeTearDown]
    public async Task StopHost() => await _host.DisposeAsync();

    private Task<XapiSession> Open() => XapiSession.OpenAsync(_options, TimeSpan.FromSeconds(10), CancellationToken.None);

    [Test]
    public async Task Login_ReadsTypedRecords()
    {
        await using var s = await Open();
        Assert.That(s.SessionRef, Does.StartWith("OpaqueRef:"));
        var host = (await s.HostsAsync(CancellationToken.None)).Values.Single();
        Assert.That((host.NameLabel, host.ApiVersionMajor), Is.EqualTo(("xs-client", 2L)));
        var vm = (await s.VmsAsync(CancellationToken.None)).Values.Single(v => v.IsGuest);
        Assert.That((vm.NameLabel, vm.PowerState, vm.MemoryStaticMax, vm.VcpusMax), Is.EqualTo(("client-vm", "Running", 2048L << 20, 2L)));
        var vbd = (await s.VbdsAsync(CancellationToken.None))[vm.Vbds.Single()];
        var vdi = (await s.VdisAsync(CancellationToken.None))[vbd.Vdi];
        Assert.That(vdi.VirtualSize, Is.EqualTo(64L << 20));
        var pool = await s.PoolAsync(CancellationToken.None);
        var sr = (await s.SrsAsync(CancellationToken.None))[pool.DefaultSr];
        Assert.That(sr.FreeBytes, Is.GreaterThan(0));
        Assert.That(await s.ComputeFreeMemoryAsync(host.Ref, CancellationToken.None), Is.GreaterThan(0));
    }

    [Test]
    public async Task WrongPassword_FailsWithTheCode_AndNoCredentials()
    {
        var bad = new XapiHostOptions { Name = _host.Name, Url = _host.Url, Username = "root", Password = "not-the-password" };
        var ex = await Assert.ThrowsAsync<XapiException>(() => XapiSession.OpenAsync(bad, TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.That(ex!.Code, Is.EqualTo(XapiException.SessionAuthenticationFailed));
        Assert.That(ex.ToString(), Does.Not.Contain("not-the-password").And.Not.Contain("root"));
    }

    [Test]
    public async Task ExpiredSession_IsRenewedOnce_Transparently()
    {
        await using var s = await Open();
        var first = s.SessionRef;
        await using (var other = await Open())
            await other.CallAsync("session.logout", CancellationToken.None); // logs out `other`, not `s`

        // End `s`'s session behind its back, as a host restart or idle expiry would.
        using var http = new HttpClient();
        var logout = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "session.logout", ["params"] = new JsonArray(first), ["id"] = 1 };
        (await http.PostAsync(_host.Url + "/jsonrpc", new StringContent(logout.ToJsonString()))).EnsureSuccessStatusCode();

        var vms = await s.VmsAsync(CancellationToken.None);
        Assert.That(vms, Is.Not.Empty);
        Assert.That(s.SessionRef, Is.Not.EqualTo(first));
    }

    [Test]
    public async Task XapiErrors_CarryCodeAndParams()
    {
        await using var s = await Open();
        var vm = (await s.VmsAsync(CancellationToken.None)).Values.Single(v => v.IsGuest);
        var ex = await Assert.ThrowsAsync<XapiException>(() => s.CallAsync("VM.start", CancellationToken.None, vm.Ref, false, false));
        Assert.That(ex!.Code, Is.EqualTo(XapiException.VmBadPowerState));
        Assert.That(ex.Parameters, Is.EqualTo(new[] { vm.Ref, "halted", "running" }));
        var unknown = await Assert.ThrowsAsync<XapiException>(() => s.CallAsync("VM.get_record", CancellationToken.None, "OpaqueRef:nope"));
        Assert.That(unknown!.Code, Is.EqualTo(XapiException.HandleInvalid));
    }

    [Test]
    public async Task AsyncCalls_AreAwaitedThroughTheirTask()
    {
        await using var s = await Open();
        var vm = (await s.VmsAsync(CancellationToken.None)).Values.Single(v => v.NameLabel == "client-vm");
        var snapshot = await s.CallAsyncTaskAsync("VM.snapshot", TimeSpan.FromSeconds(10), CancellationToken.None, vm.Ref, "client-snap");
        Assert.That(snapshot, Does.StartWith("OpaqueRef:"));
        var record = await s.VmAsync(snapshot, CancellationToken.None);
        Assert.That((record.IsASnapshot, record.IsGuest), Is.EqualTo((true, false)));

        _host.Faults.FailNext("VM.snapshot", "SR_FULL", ["1", "2"]);
        var failed = await Assert.ThrowsAsync<XapiException>(() =>
            s.CallAsyncTaskAsync("VM.snapshot", TimeSpan.FromSeconds(10), CancellationToken.None, vm.Ref, "will-fail"));
        Assert.That(failed!.Code, Is.EqualTo("SR_FULL"));
    }

    [Test]
    public async Task OtherConfig_AddAndRemove()
    {
        await using var s = await Open();
        await s.AddToOtherConfigAsync("VM", _vm.VmRef, "xenmigrate_test", "42", CancellationToken.None);
        Assert.That((await s.VmAsync(_vm.VmRef, CancellationToken.None)).OtherConfig["xenmigrate_test"], Is.EqualTo("42"));
        await s.RemoveFromOtherConfigAsync("VM", _vm.VmRef, "xenmigrate_test", CancellationToken.None);
        Assert.That((await s.VmAsync(_vm.VmRef, CancellationToken.None)).OtherConfig.ContainsKey("xenmigrate_test"), Is.False);
    }

    [Test]
    public async Task EventFrom_ReportsAVmChange()
    {
        await using var s = await Open();
        var (_, token) = await s.EventsFromAsync(["vm"], "", TimeSpan.FromSeconds(1), CancellationToken.None);
        var waiting = s.EventsFromAsync(["vm"], token, TimeSpan.FromSeconds(10), CancellationToken.None);
        await using (var writer = await Open())
            await writer.AddToOtherConfigAsync("VM", _vm.VmRef, "poke", "1", CancellationToken.None);
        var (events, _) = await waiting;
        Assert.That(events.Select(e => XapiValues.String(e!["ref"])), Does.Contain(_vm.VmRef));
    }

    [Test]
    public async Task HostDown_IsATransportError()
    {
        await using var s = await Open();
        _host.Faults.SetHostDown();
        try
        {
            await Assert.ThrowsAsync<XapiTransportException>(() => s.VmsAsync(CancellationToken.None));
        }
        finally
        {
            _host.Faults.SetHostUp();
        }

        Assert.That(await s.VmsAsync(CancellationToken.None), Is.Not.Empty);
    }
}
