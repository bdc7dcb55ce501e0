using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// A simulated pool as xapi serves one: a master with the database, members on their own
/// addresses (one port), HOST_IS_SLAVE on a member's login, a shared SR every member sees,
/// placement of starts, pool migration, 302s from the transfer handlers and master hand-over.
/// </summary>
public class PoolTests
{
    private const long MiB = 1024L * 1024;
    private const long GiB = 1024 * MiB;

    private SimulatedPool _pool = null!;
    private SimulatedHost Master => _pool.Members[0];
    private SimulatedHost Member => _pool.Members[1];
    private XapiTestClient _xapi = null!;

    [OneTimeSetUp]
    public async Task StartPool()
    {
        _pool = await SimulatedPool.StartAsync(new SimulatedPoolOptions
        {
            Name = "lab-pool",
            SharedStorageBytes = 4 * GiB,
            DefaultStorage = DefaultStorage.Shared,
            Hosts =
            [
                new SimulatedHostOptions { Name = "pool-a", MemoryBytes = 8 * GiB, StorageBytes = 2 * GiB, Password = "pool-secret" },
                new SimulatedHostOptions { Name = "pool-b", MemoryBytes = 8 * GiB, StorageBytes = 2 * GiB, Password = "pool-secret" },
            ],
        });
        _xapi = await XapiTestClient.LoginAsync(Master);
    }

    [OneTimeTearDown]
    public async Task StopPool()
    {
        _xapi?.Dispose();
        if (_pool is not null) await _pool.DisposeAsync();
    }

    [TearDown]
    public void RestoreMaster()
    {
        if (!Master.IsMaster) _pool.DesignateMaster(Master);
    }

    [Test]
    public async Task Members_ShareOnePort_OnTheirOwnAddresses_AndAppearAsHostsOfOnePool()
    {
        Assert.That(Member.Port, Is.EqualTo(Master.Port));
        Assert.That(Member.Address, Is.Not.EqualTo(Master.Address));
        var hosts = (await _xapi.CallAsync("host.get_all_records"))!.AsObject();
        Assert.That(hosts.Select(h => (string)h.Value!["address"]!), Is.EquivalentTo(new[] { Master.Address, Member.Address }));
        var pool = (await _xapi.CallAsync("pool.get_all_records"))!.AsObject().Single().Value!;
        Assert.That((string)pool["name_label"]!, Is.EqualTo("lab-pool"));
        Assert.That((string)pool["master"]!, Is.EqualTo(Master.HostRef));
        Assert.That((string)pool["default_SR"]!, Is.EqualTo(_pool.SharedSrRef));
    }

    [Test]
    public async Task LoginOnAMember_AnswersHostIsSlave_WithTheMastersAddress_AndItsSessionsWorkEverywhere()
    {
        using var atMember = new XapiTestClientOn(Member);
        var refused = await atMember.LoginFailureAsync();
        Assert.That(refused.Code, Is.EqualTo("HOST_IS_SLAVE"));
        Assert.That(refused.Parameters, Is.EqualTo(new[] { Master.Address }));

        // A member serves calls made with a session of the pool (the database is the master's).
        var hosts = await atMember.CallWithSessionAsync(_xapi.Session, "host.get_all");
        Assert.That(hosts!.AsArray(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task SharedSr_IsPluggedOnEveryMember_LocalSrsOnlyOnTheirOwn()
    {
        var pbds = (await _xapi.CallAsync("PBD.get_all_records"))!.AsObject().Select(p => p.Value!.AsObject()).ToList();
        Assert.That(pbds.Where(p => (string)p["SR"]! == _pool.SharedSrRef).Select(p => (string)p["host"]!),
            Is.EquivalentTo(new[] { Master.HostRef, Member.HostRef }));
        Assert.That(pbds.Where(p => (string)p["SR"]! == Member.SrRef).Select(p => (string)p["host"]!), Is.EqualTo(new[] { Member.HostRef }));
        Assert.That((bool)(await _xapi.CallAsync("SR.get_shared", _pool.SharedSrRef))!, Is.True);
    }

    [Test]
    public async Task StartOn_PlacesTheVmOnThatMember_StartHonoursAffinity()
    {
        var seeded = await Master.Control.SeedVmAsync(new() { Name = Unique("place"), PowerState = "Halted", DiskBytes = 8 * MiB, DataBytes = MiB, StorageRepository = _pool.SharedSrRef });
        await _xapi.CallAsync("VM.start_on", seeded.VmRef, Member.HostRef, false, false);
        Assert.That((string)(await _xapi.CallAsync("VM.get_resident_on", seeded.VmRef))!, Is.EqualTo(Member.HostRef));
        await _xapi.CallAsync("VM.hard_shutdown", seeded.VmRef);

        await _xapi.CallAsync("VM.set_affinity", seeded.VmRef, Master.HostRef);
        await _xapi.CallAsync("VM.start", seeded.VmRef, false, false);
        Assert.That((string)(await _xapi.CallAsync("VM.get_resident_on", seeded.VmRef))!, Is.EqualTo(Master.HostRef));
        await _xapi.CallAsync("VM.hard_shutdown", seeded.VmRef);
    }

    [Test]
    public async Task StartOn_AMemberThatCannotSeeTheDisks_IsRefused_WithVmRequiresSr()
    {
        var seeded = await Master.Control.SeedVmAsync(new() { Name = Unique("local"), PowerState = "Halted", DiskBytes = 8 * MiB, DataBytes = MiB });
        var refused = await _xapi.FailureAsync("VM.start_on", seeded.VmRef, Member.HostRef, false, false);
        Assert.That(refused.Code, Is.EqualTo("VM_REQUIRES_SR"));
        Assert.That(refused.Parameters, Is.EqualTo(new[] { seeded.VmRef, Master.SrRef }));
    }

    [Test]
    public async Task PoolMigrate_MovesARunningVmOnSharedStorage_AndItsMemory()
    {
        var seeded = await Master.Control.SeedVmAsync(new() { Name = Unique("motion"), MemoryBytes = 1 * GiB, DiskBytes = 8 * MiB, DataBytes = MiB, StorageRepository = _pool.SharedSrRef });
        var sha = Master.Control.GetDiskSha256(seeded.VdiRef);
        var memberFree = (long)(await _xapi.CallAsync("host.compute_free_memory", Member.HostRef))!;

        await _xapi.CallAsync("VM.pool_migrate", seeded.VmRef, Member.HostRef, new JsonObject());

        var vm = await _xapi.RecordAsync("VM", seeded.VmRef);
        Assert.That((string)vm["resident_on"]!, Is.EqualTo(Member.HostRef));
        Assert.That((string)vm["power_state"]!, Is.EqualTo("Running"));
        Assert.That((long)(await _xapi.CallAsync("host.compute_free_memory", Member.HostRef))!, Is.EqualTo(memberFree - 1 * GiB));
        Assert.That(Master.Control.GetDiskSha256(seeded.VdiRef), Is.EqualTo(sha), "no disk byte moved or changed");
        await _xapi.CallAsync("VM.hard_shutdown", seeded.VmRef);
    }

    [Test]
    public async Task PoolMigrate_OfAVmOnLocalDisks_IsRefused_WithVmRequiresSr()
    {
        var seeded = await Master.Control.SeedVmAsync(new() { Name = Unique("pinned"), DiskBytes = 8 * MiB, DataBytes = MiB });
        var refused = await _xapi.FailureAsync("VM.pool_migrate", seeded.VmRef, Member.HostRef, new JsonObject());
        Assert.That(refused.Code, Is.EqualTo("VM_REQUIRES_SR"));
        Assert.That((string)(await _xapi.CallAsync("VM.get_resident_on", seeded.VmRef))!, Is.EqualTo(Master.HostRef));
        await _xapi.CallAsync("VM.hard_shutdown", seeded.VmRef);
    }

    [Test]
    public async Task ExportOnTheMaster_OfADiskOnAMembersLocalSr_Answers302ToThatMember()
    {
        var seeded = await Member.Control.SeedVmAsync(new() { Name = Unique("far"), PowerState = "Halted", DiskBytes = 8 * MiB, DataBytes = 2 * MiB });
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var url = _xapi.HandlerUrl("export_raw_vdi", ("vdi", seeded.VdiRef), ("format", "raw"));

        using var redirect = await noRedirects.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(redirect.StatusCode, Is.EqualTo(HttpStatusCode.Found));
        var location = redirect.Headers.Location!;
        Assert.That(location.Host, Is.EqualTo(Member.Address));
        Assert.That(location.Port, Is.EqualTo(Member.Port));
        Assert.That(location.PathAndQuery, Is.EqualTo(new Uri(url).PathAndQuery), "the same handler and query, the session included");

        using var followed = await noRedirects.GetAsync(location);
        Assert.That(followed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var bytes = await followed.Content.ReadAsByteArrayAsync();
        Assert.That(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), Is.EqualTo(Member.Control.GetDiskSha256(seeded.VdiRef)));
    }

    [Test]
    public async Task ExportOfADiskOnTheSharedSr_IsServedByWhicheverMemberIsAsked()
    {
        var seeded = await Master.Control.SeedVmAsync(new() { Name = Unique("near"), PowerState = "Halted", DiskBytes = 4 * MiB, DataBytes = MiB, StorageRepository = _pool.SharedSrRef });
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var atMember = $"{Member.Url}/export_raw_vdi?session_id={Uri.EscapeDataString(_xapi.Session)}&vdi={seeded.VdiRef}&format=raw";
        using var response = await noRedirects.GetAsync(atMember);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task ImportOnTheMaster_IntoADiskOnAMembersLocalSr_Answers302BeforeReadingTheBody()
    {
        var vdi = await _xapi.CallForStringAsync("VDI.create", new JsonObject
        {
            ["name_label"] = "remote target", ["SR"] = Member.SrRef, ["virtual_size"] = 4 * MiB, ["type"] = "user",
            ["sharable"] = false, ["read_only"] = false, ["other_config"] = new JsonObject(),
        });
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var content = new ByteArrayContent(new byte[1024]);
        using var redirect = await noRedirects.PutAsync(_xapi.HandlerUrl("import_raw_vdi", ("vdi", vdi), ("format", "raw")), content);
        Assert.That(redirect.StatusCode, Is.EqualTo(HttpStatusCode.Found));
        Assert.That(redirect.Headers.Location!.Host, Is.EqualTo(Member.Address));
        Assert.That(redirect.Headers.Contains("task-id"), Is.False, "no task was started where the disk is not");
    }

    [Test]
    public async Task DesignateNewMaster_TheOldMasterAnswersHostIsSlave_ExistingSessionsStayValid()
    {
        await _xapi.CallAsync("pool.designate_new_master", Member.HostRef);

        using var atOldMaster = new XapiTestClientOn(Master);
        var refused = await atOldMaster.LoginFailureAsync();
        Assert.That(refused.Code, Is.EqualTo("HOST_IS_SLAVE"));
        Assert.That(refused.Parameters, Is.EqualTo(new[] { Member.Address }));
        using var atNewMaster = new XapiTestClientOn(Member);
        Assert.That(await atNewMaster.LoginAsync(), Does.StartWith("OpaqueRef:"));
        Assert.That((string)(await _xapi.CallAsync("pool.get_master", _pool.PoolRef))!, Is.EqualTo(Member.HostRef), "an old session still works");
    }

    [Test]
    public async Task WithoutADefaultSr_PoolDefaultSrIsNull()
    {
        await using var pool = await SimulatedPool.StartAsync(new SimulatedPoolOptions
        {
            DefaultStorage = DefaultStorage.None,
            Hosts = [new SimulatedHostOptions { Name = "nodefault", StorageBytes = 1 * GiB }],
        });
        using var xapi = await XapiTestClient.LoginAsync(pool.Members[0]);
        Assert.That((string)(await xapi.CallAsync("pool.get_default_SR", pool.PoolRef))!, Is.EqualTo("OpaqueRef:NULL"));
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>Raw JSON-RPC at one member, for what a client sees there before it has a session.</summary>
    private sealed class XapiTestClientOn(SimulatedHost host) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = new Uri(host.Url) };

        public async Task<XapiCallException> LoginFailureAsync()
        {
            try
            {
                await LoginAsync();
            }
            catch (XapiCallException e)
            {
                return e;
            }

            Assert.Fail("The login succeeded.");
            throw new InvalidOperationException();
        }

        public async Task<string> LoginAsync() =>
            (string)(await CallAsync("session.login_with_password", host.Username, host.Password, "1.1", "pool-tests"))!;

        public Task<JsonNode?> CallWithSessionAsync(string session, string method, params JsonNode?[] args) =>
            CallAsync(method, [session, .. args]);

        private async Task<JsonNode?> CallAsync(string method, params JsonNode?[] args)
        {
            var request = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = method, ["params"] = new JsonArray(args.Select(a => a?.DeepClone()).ToArray()), ["id"] = 1 };
            using var response = await _http.PostAsync("/jsonrpc", new StringContent(request.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
            var reply = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            if (reply["error"] is JsonObject error)
                throw new XapiCallException((string)error["message"]!, error["data"]!.AsArray().Select(p => (string)p!).ToList());
            return reply["result"];
        }

        public void Dispose() => _http.Dispose();
    }
}
