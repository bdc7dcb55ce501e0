using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// Server create and delete end to end (real HTTP, Hangfire, XAPI on three simulated hosts):
/// templates as images, boot onto a host with the flavor's size, delete leaving nothing behind
/// (in VERIFY_RESIZE on both hosts), quotas, and Nova's refusals.
/// </summary>
[NonParallelizable]
public class ServerLifecycleTests : WorkflowFixture
{
    private static readonly string Debian = TemplateImages.IdForName("Debian Bookworm 12").ToString();

    [Test]
    public async Task Images_AreTheTemplates_WithTheSameIdOnEveryHost()
    {
        var list = await Gateway.GetAsync("/image/v2/images", Demo);
        AssertStatus(list, HttpStatusCode.OK);
        var images = list.Json!["images"]!.AsArray();
        Assert.That(images.Select(i => i!["name"]!.GetValue<string>()), Is.EqualTo(new[]
        {
            "Debian Bookworm 12", "Other install media", "Rocky Linux 9", "Ubuntu Jammy Jellyfish 22.04", "Windows 11", "Windows Server 2022 (64-bit)",
        }), "a fresh host's default templates");
        var debian = images.Single(i => i!["name"]!.GetValue<string>() == "Debian Bookworm 12")!;
        Assert.That(debian["id"]!.GetValue<string>(), Is.EqualTo(Debian), "a name-based id: the same across restarts");
        Assert.That(debian["xenserver_hosts"]!.GetValue<string>(), Is.EqualTo("xs-1,xs-2,xs-3"), "one image for the template on three hosts");
        Assert.That(debian["status"]!.GetValue<string>(), Is.EqualTo("active"));

        var show = await Gateway.GetAsync($"/image/v2/images/{Debian}", Demo);
        AssertStatus(show, HttpStatusCode.OK);
        Assert.That(show.Json!["name"]!.GetValue<string>(), Is.EqualTo("Debian Bookworm 12"));
        AssertStatus(await Gateway.GetAsync($"/image/v2/images/{Guid.NewGuid()}", Demo), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task ImageProxy_ListsTheTemplatesInNovasShape_UpTo235_And404From236()
    {
        var glance = (await Gateway.GetAsync("/image/v2/images", Demo)).Json!["images"]!.AsArray();
        var list = await Gateway.GetAsync("/v2.1/images", Demo);
        AssertStatus(list, HttpStatusCode.OK);
        var names = list.Json!["images"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()).ToList();
        Assert.That(names, Is.EquivalentTo(glance.Select(i => i!["name"]!.GetValue<string>())), "the same images as Glance's");
        Assert.That(list.Json!["images"]![0]!.AsObject().Select(p => p.Key), Is.EqualTo(new[] { "id", "name", "links" }));

        var show = await Gateway.GetAsync($"/v2.1/images/{Debian}", Demo);
        AssertStatus(show, HttpStatusCode.OK);
        var image = show.Json!["image"]!;
        var glanceDebian = glance.Single(i => i!["id"]!.GetValue<string>() == Debian)!;
        Assert.That((image["status"]!.GetValue<string>(), image["progress"]!.GetValue<int>(), image["minRam"]!.GetValue<long>(), image["minDisk"]!.GetValue<int>()),
            Is.EqualTo(("ACTIVE", 100, glanceDebian["min_ram"]!.GetValue<long>(), 0)));
        Assert.That(image["links"]!.AsArray().Select(l => l!["rel"]!.GetValue<string>()), Is.EqualTo(new[] { "self", "bookmark", "alternate" }));
        Assert.That(image["links"]![0]!["href"]!.GetValue<string>(), Does.EndWith($"/v2.1/images/{Debian}"));

        var minRam = glance.Max(i => i!["min_ram"]!.GetValue<long>());
        var detail = await Gateway.GetAsync($"/v2.1/images/detail?minRam={minRam}", Demo);
        Assert.That(detail.Json!["images"]!.AsArray().Select(i => i!["minRam"]!.GetValue<long>()), Is.Not.Empty.And.All.EqualTo(minRam));
        var paged = await Gateway.GetAsync("/v2.1/images?limit=2", Demo);
        Assert.That(paged.Json!["images"]!.AsArray(), Has.Count.EqualTo(2));
        Assert.That(paged.Json!["images_links"]![0]!["href"]!.GetValue<string>(), Does.Contain("marker="));
        Assert.That((await Gateway.GetAsync("/v2.1/images?status=SAVING", Demo)).Json!["images"]!.AsArray(), Is.Empty);

        var missing = await Gateway.GetAsync($"/v2.1/images/{Guid.NewGuid()}", Demo);
        AssertStatus(missing, HttpStatusCode.NotFound);
        Assert.That(missing.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo("Image not found."));
        AssertStatus(await Gateway.GetAsync($"/v2.1/images/{Debian}", Demo, "2.35"), HttpStatusCode.OK);
        foreach (var path in new[] { "/v2.1/images", "/v2.1/images/detail", $"/v2.1/images/{Debian}" })
            AssertStatus(await Gateway.GetAsync(path, Demo, "2.36"), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task AvailabilityZones_AreNovasDefaultZone_WithEveryHost_AndCreateRefusesAnother()
    {
        var list = await Gateway.GetAsync("/v2.1/os-availability-zone", Demo);
        AssertStatus(list, HttpStatusCode.OK);
        Assert.That(list.Json!["availabilityZoneInfo"]!.ToJsonString(), Is.EqualTo("""[{"zoneName":"nova","zoneState":{"available":true},"hosts":null}]"""));

        AssertStatus(await Gateway.GetAsync("/v2.1/os-availability-zone/detail", Demo), HttpStatusCode.Forbidden);
        var detail = (await Gateway.GetAsync("/v2.1/os-availability-zone/detail", Admin)).Json!["availabilityZoneInfo"]![0]!;
        var hosts = detail["hosts"]!.AsObject();
        Assert.That(hosts.Select(h => h.Key), Is.EqualTo(Lab.Hosts.Select(h => h.Name).Order()));
        Assert.That(hosts.Select(h => (h.Value!["nova-compute"]!["available"]!.GetValue<bool>(), h.Value!["nova-compute"]!["active"]!.GetValue<bool>())),
            Has.All.EqualTo((true, true)));

        var elsewhere = await PostServersAsync(Demo, $$$"""{"server":{"name":"lc-az","imageRef":"{{{Debian}}}","flavorRef":"w1","availability_zone":"elsewhere"}}""");
        AssertStatus(elsewhere, HttpStatusCode.BadRequest);
        Assert.That(elsewhere.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("The requested availability zone is not available"));
        var servers = (await Gateway.GetAsync("/v2.1/servers?name=lc-az", Demo)).Json!["servers"]!.AsArray();
        Assert.That(servers, Is.Empty);
    }

    [Test]
    public async Task Create_BootsTheTemplateOnAHost_WithTheFlavorsSize_ThenDeleteLeavesNothing()
    {
        var created = await CreateAsync(Demo, "lc-boot", "w1", metadata: new JsonObject { ["role"] = "web" });
        AssertStatus(created, HttpStatusCode.Accepted);
        var body = created.Json!["server"]!;
        var id = body["id"]!.GetValue<string>();
        Assert.That(body["adminPass"]!.GetValue<string>(), Has.Length.EqualTo(12), "a password is generated when none is given");
        Assert.That(body["security_groups"]![0]!["name"]!.GetValue<string>(), Is.EqualTo("default"));
        Assert.That(body["OS-DCF:diskConfig"]!.GetValue<string>(), Is.EqualTo("MANUAL"));
        Assert.That(created.Header("Location"), Does.EndWith($"/v2.1/servers/{id}"));
        var first = await ServerAsync(id);
        Assert.That(first["status"]!.GetValue<string>(), Is.EqualTo("BUILD"), "BUILD before the 202 went out");

        var active = await WaitForStatusAsync(id, "ACTIVE");
        var hostName = active["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
        Assert.That(active["image"]!["id"]!.GetValue<string>(), Is.EqualTo(Debian));
        Assert.That(active["metadata"]!["role"]!.GetValue<string>(), Is.EqualTo("web"));
        Assert.That(active["OS-SRV-USG:launched_at"], Is.Not.Null);

        var host = HostNamed(hostName);
        var vm = (await VmsOfServerAsync(host, id)).Single();
        Assert.That((vm.NameLabel, vm.PowerState, vm.MemoryStaticMax, vm.VcpusMax), Is.EqualTo(("lc-boot", "Running", 1024L << 20, 1L)));
        Assert.That(vm.OtherConfig.ContainsKey("default_template"), Is.False);
        await using (var s = await OpenAsync(host))
        {
            var vbd = (await s.VbdsAsync(CancellationToken.None)).Values.Single(b => b.Vm == vm.Ref && b.IsDisk);
            Assert.That((await s.VdisAsync(CancellationToken.None))[vbd.Vdi].VirtualSize, Is.EqualTo(1L << 30), "a root disk of the flavor's size");
        }

        foreach (var other in Lab.Hosts.Where(h => h.Name != hostName)) Assert.That(await VmsOfServerAsync(other, id), Is.Empty);
        var actions = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo)).Json!["instanceActions"]!.AsArray();
        Assert.That(actions.Select(a => a!["action"]!.GetValue<string>()), Does.Contain("create"));

        var deleted = await DeleteAsync(Demo, id);
        AssertStatus(deleted, HttpStatusCode.NoContent);
        await WaitGoneAsync(id);
        Assert.That(await VmsOfServerAsync(host, id), Is.Empty, "the VM is destroyed");
        var afterwards = await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo, "2.21");
        AssertStatus(afterwards, HttpStatusCode.OK);
        Assert.That(afterwards.Json!["instanceActions"]!.AsArray().Select(a => a!["action"]!.GetValue<string>()), Is.EqualTo(new[] { "delete", "create" }),
            "from 2.21 a deleted server's actions stay readable");
        AssertStatus(await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo, "2.20"), HttpStatusCode.NotFound);
        Assert.That(await OrphanVdisAsync(host), Is.Empty, "and its disk with it");
        var list = (await Gateway.GetAsync("/v2.1/servers", Demo)).Json!["servers"]!.AsArray();
        Assert.That(list.Select(s => s!["id"]!.GetValue<string>()), Does.Not.Contain(id));
    }

    [Test]
    public async Task Delete_InVerifyResize_CleansBothHosts()
    {
        var id = await SeedServerAsync(0, "lc-verify", memoryMb: 1024, diskGb: 1, dataMib: 4);
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var dest = HostNamed(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        Assert.That(await VmsOfServerAsync(Lab[0], id), Has.Count.EqualTo(1), "the source waits for confirm or revert");

        AssertStatus(await DeleteAsync(Demo, id), HttpStatusCode.NoContent);
        await WaitGoneAsync(id);
        foreach (var host in new[] { Lab[0], dest })
        {
            Assert.That(await VmsOfServerAsync(host, id), Is.Empty, $"no VM of the server on {host.Name}");
            Assert.That(await LabInspector.MigrationLeftoversAsync(host), Is.Empty, $"no snapshot or copy left on {host.Name}");
            Assert.That(await OrphanVdisAsync(host), Is.Empty, $"no orphan disk on {host.Name}");
        }

        var migration = await MigrationAsync(id);
        Assert.That(migration["status"]!.GetValue<string>(), Is.EqualTo("confirmed"), "Nova confirms a resize whose server is deleted");
    }

    [Test]
    public async Task Create_WithNoHostBigEnough_EndsInError_WithNothingLeft_AndDeletesAtOnce()
    {
        await AddFlavorAsync(new Flavor("lc-huge", "lc.huge", 40 * 1024, 2, 1));
        var created = await CreateAsync(Demo, "lc-huge", "lc-huge");
        AssertStatus(created, HttpStatusCode.Accepted);
        var id = created.Json!["server"]!["id"]!.GetValue<string>();

        var failed = await WaitForStatusAsync(id, "ERROR");
        Assert.That(failed["fault"]!["message"]!.GetValue<string>(), Does.StartWith("No valid host was found."));
        Assert.That(failed["OS-EXT-SRV-ATTR:host"]?.GetValue<string>(), Is.Null);
        foreach (var host in Lab.Hosts) Assert.That(await VmsOfServerAsync(host, id), Is.Empty);

        AssertStatus(await DeleteAsync(Demo, id), HttpStatusCode.NoContent);
        AssertStatus(await Gateway.GetAsync($"/v2.1/servers/{id}", Demo), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Create_ThatFailsHalfWay_IsCarriedOnByTheRetry_WithOneVmAndNoOrphans()
    {
        // Every host refuses the first VM.start: the retry finds the half-built VM by its tag and finishes it.
        foreach (var host in Lab.Hosts) host.Faults.FailNext("VM.start_on", "INTERNAL_ERROR", ["injected"]);
        try
        {
            var created = await CreateAsync(Demo, "lc-retry", "w1");
            var id = created.Json!["server"]!["id"]!.GetValue<string>();
            var active = await WaitForStatusAsync(id, "ACTIVE");
            var host = HostNamed(active["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
            Assert.That(await VmsOfServerAsync(host, id), Has.Count.EqualTo(1));
            await using var s = await OpenAsync(host);
            var templates = (await s.VmsAsync(CancellationToken.None)).Values.Where(v => v.IsATemplate && !v.IsASnapshot).ToList();
            Assert.That(templates, Has.Count.EqualTo(6), "no half-built clone left as a template (only the six default templates)");
            Assert.That(await OrphanVdisAsync(host), Is.Empty);
            AssertStatus(await DeleteAsync(Demo, id), HttpStatusCode.NoContent);
            await WaitGoneAsync(id);
        }
        finally
        {
            foreach (var host in Lab.Hosts) host.Faults.Clear();
        }
    }

    [Test]
    public async Task MoreMetadataThanTheProjectsMetadataItems_Is403_AndCreatesNothing()
    {
        var demoProject = await Gateway.ProjectIdAsync("demo");
        AssertStatus(await PutQuotaAsync(demoProject, """{"quota_set":{"metadata_items":2}}"""), HttpStatusCode.OK);
        try
        {
            var limit = (await Gateway.GetAsync("/v2.1/limits", Demo)).Json!["limits"]!["absolute"]!["maxServerMeta"]!.GetValue<int>();
            Assert.That(limit, Is.EqualTo(2), "limits shows the project's own metadata_items");
            var over = await CreateAsync(Demo, "lc-meta", "w1", metadata: new JsonObject { ["a"] = "1", ["b"] = "2", ["c"] = "3" });
            AssertStatus(over, HttpStatusCode.Forbidden);
            Assert.That(over.Json!["forbidden"]!["message"]!.GetValue<string>(), Is.EqualTo("Maximum number of metadata items exceeds 2"));
            var names = (await Gateway.GetAsync("/v2.1/servers", Demo)).Json!["servers"]!.AsArray().Select(s => s!["name"]!.GetValue<string>());
            Assert.That(names, Does.Not.Contain("lc-meta"));
        }
        finally
        {
            AssertStatus(await PutQuotaAsync(demoProject, """{"quota_set":{"metadata_items":128}}"""), HttpStatusCode.OK);
        }
    }

    [Test]
    public async Task Quota_RefusesCreateAndResizeBeyondIt_With403()
    {
        var demoProject = await Gateway.ProjectIdAsync("demo");
        var quota = await Gateway.GetAsync($"/v2.1/os-quota-sets/{demoProject}", Demo);
        AssertStatus(quota, HttpStatusCode.OK);
        Assert.That((quota.Json!["quota_set"]!["instances"]!.GetValue<int>(), quota.Json["quota_set"]!["cores"]!.GetValue<int>(),
            quota.Json["quota_set"]!["ram"]!.GetValue<int>()), Is.EqualTo((10, 20, 51200)), "Nova's defaults");

        var id = await SeedServerAsync(1, "lc-quota", memoryMb: 1024, diskGb: 1, dataMib: 1);
        var used = (await Gateway.GetAsync($"/v2.1/os-quota-sets/{demoProject}/detail", Demo)).Json!["quota_set"]!["ram"]!["in_use"]!.GetValue<int>();
        AssertStatus(await PutQuotaAsync(demoProject, $$$"""{"quota_set":{"ram":{{{used + 512}}}}}"""), HttpStatusCode.OK);
        try
        {
            var create = await CreateAsync(Demo, "lc-over", "w1");
            AssertStatus(create, HttpStatusCode.Forbidden);
            Assert.That(create.Json!["forbidden"]!["message"]!.GetValue<string>(),
                Is.EqualTo($"Quota exceeded for ram: Requested 1024, but already used {used} of {used + 512} ram"));

            var resize = await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}""");
            AssertStatus(resize, HttpStatusCode.Forbidden);
            Assert.That(resize.Json!["forbidden"]!["message"]!.GetValue<string>(),
                Is.EqualTo($"Quota exceeded for ram: Requested 1024, but already used {used} of {used + 512} ram"), "only what grows counts");
            Assert.That((await ServerAsync(id))["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"), "nothing started");

            AssertStatus(await PutQuotaAsync(demoProject, """{"quota_set":{"ram":1}}"""), HttpStatusCode.BadRequest);
            var members = await PutQuotaAsync(demoProject, """{"quota_set":{"ram":1}}""", Demo);
            AssertStatus(members, HttpStatusCode.Forbidden);
        }
        finally
        {
            AssertStatus(await PutQuotaAsync(demoProject, """{"quota_set":{"ram":51200}}"""), HttpStatusCode.OK);
        }
    }

    [Test]
    public async Task Create_RefusesBadInput_AsNovaDoes()
    {
        async Task<(HttpStatusCode, string)> Post(string body, string? token = null)
        {
            var r = await PostServersAsync(token ?? Demo, body);
            return (r.Status, r.Json?.AsObject().First().Value?["message"]?.GetValue<string>() ?? r.Text);
        }

        var image = Debian;
        Assert.That(await Post($$$"""{"server":{"imageRef":"{{{image}}}","flavorRef":"w1"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, $$$"""Invalid input for field/attribute server. Value: {'imageRef': '{{{image}}}', 'flavorRef': 'w1'}. 'name' is a required property""")));
        Assert.That(await Post($$$"""{"server":{"name":" x","imageRef":"{{{image}}}","flavorRef":"w1"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.")));
        Assert.That(await Post("""{"server":{"name":"x","imageRef":"not-a-uuid","flavorRef":"w1"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid input for field/attribute imageRef. Value: not-a-uuid. 'not-a-uuid' is not valid under any of the given schemas")));
        Assert.That(await Post($$$"""{"server":{"name":"x","imageRef":"{{{image}}}","flavorRef":""}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid input for field/attribute flavorRef. Value: . '' is not valid under any of the given schemas")));
        Assert.That(await Post($$$"""{"server":{"name":"x","imageRef":"{{{image}}}","flavorRef":"nope"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid flavorRef provided.")));
        var unknown = Guid.NewGuid();
        Assert.That(await Post($$$"""{"server":{"name":"x","imageRef":"{{{unknown}}}","flavorRef":"w1"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, $"Image {unknown} could not be found.")));
        Assert.That(await Post("""{"server":{"name":"x","flavorRef":"w1"}}"""), Is.EqualTo((HttpStatusCode.BadRequest, "Missing imageRef attribute")));
        // Another spelling of an image's id names no image (Glance issues them lower-case); blanks around it are no uuid at all.
        var upper = image.ToUpperInvariant();
        Assert.That(await Post($$$"""{"server":{"name":"x","imageRef":"{{{upper}}}","flavorRef":"w1"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, $"Image {upper} could not be found.")));
        Assert.That((await Post($$$"""{"server":{"name":"x","imageRef":" {{{image}}}","flavorRef":"w1"}}""")).Item1, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await Post($$$"""{"server":{"name":"x","imageRef":"{{{image}}}","flavorRef":"w1","bogus":1}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, $$$"""Invalid input for field/attribute server. Value: {'name': 'x', 'imageRef': '{{{image}}}', 'flavorRef': 'w1', 'bogus': 1}. Additional properties are not allowed ('bogus' was unexpected)""")));
        Assert.That(await Post("""{"servers":{}}"""), Is.EqualTo((HttpStatusCode.BadRequest, "Additional properties are not allowed ('servers' was unexpected)")));

        var reader = await Gateway.TokenAsync(TestUsers.Reader);
        Assert.That((await Post($$$"""{"server":{"name":"x","imageRef":"{{{image}}}","flavorRef":"w1"}}""", reader)).Item1, Is.EqualTo(HttpStatusCode.Forbidden));
        AssertStatus(await DeleteAsync(Demo, Guid.NewGuid().ToString()), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Create_ListsItsInterface_WithTheGuestsAddresses_InDetailAndUnderIps()
    {
        var created = await CreateAsync(Demo, "lc-addr", "w1");
        var id = created.Json!["server"]!["id"]!.GetValue<string>();
        var active = await WaitForStatusAsync(id, "ACTIVE");
        var host = HostNamed(active["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        var vm = (await VmsOfServerAsync(host, id)).Single();
        Assert.That(vm.Vifs, Has.Count.EqualTo(1), "one VIF on the default network");
        string mac;
        await using (var s = await OpenAsync(host))
        {
            var vif = (await s.VifsAsync(CancellationToken.None))[vm.Vifs[0]];
            Assert.That((await s.NetworkLabelsAsync(CancellationToken.None))[vif.Network], Is.EqualTo(ManagementNetwork), "the management interface's network");
            mac = vif.Mac;
        }

        // The guest's agent reports what it took on the network: the addresses are there when the server is ACTIVE.
        var ips = active["addresses"]![ManagementNetwork]!.AsArray();
        Assert.That(ips.Select(ip => (ip!["version"]!.GetValue<int>(), ip["OS-EXT-IPS:type"]!.GetValue<string>(), ip["OS-EXT-IPS-MAC:mac_addr"]!.GetValue<string>())),
            Is.EqualTo(new[] { (4, "fixed", mac) }), "its IPv4 address; the link-local IPv6 one the guest also reports is no fixed IP");
        Assert.That(ips[0]!["addr"]!.GetValue<string>(), Does.Match(@"^10\.\d+\.\d+\.\d+$"));
        Assert.That(active["accessIPv4"]!.GetValue<string>(), Is.EqualTo(ips[0]!["addr"]!.GetValue<string>()), "the address to reach it by");
        Assert.That(active["accessIPv6"]!.GetValue<string>(), Is.Empty);
        await using (var s = await OpenAsync(host))
        {
            var metrics = await s.CallAsync("VM.get_guest_metrics", CancellationToken.None, vm.Ref);
            var networks = XapiValues.Map((await s.CallAsync("VM_guest_metrics.get_networks", CancellationToken.None, metrics!.GetValue<string>())));
            Assert.That(networks["0/ipv6/0"], Does.StartWith("fe80::"), "what xapi reports");
        }

        var index = await Gateway.GetAsync($"/v2.1/servers/{id}/ips", Demo);
        AssertStatus(index, HttpStatusCode.OK);
        Assert.That(index.Json!["addresses"]![ManagementNetwork]!.AsArray().Select(ip => ip!.AsObject().Select(p => p.Key)),
            Has.All.EquivalentTo(new[] { "version", "addr" }), "ips lists only version and addr, as Nova's does");
        var one = await Gateway.GetAsync($"/v2.1/servers/{id}/ips/{Uri.EscapeDataString(ManagementNetwork)}", Demo);
        AssertStatus(one, HttpStatusCode.OK);
        Assert.That(one.Json![ManagementNetwork]![0]!["addr"]!.GetValue<string>(), Is.EqualTo(ips[0]!["addr"]!.GetValue<string>()));
        var none = await Gateway.GetAsync($"/v2.1/servers/{id}/ips/nowhere", Demo);
        AssertStatus(none, HttpStatusCode.NotFound);
        Assert.That(none.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo("Instance is not a member of specified network"));
        AssertStatus(await Gateway.GetAsync($"/v2.1/servers/{id}/ips", await Gateway.TokenAsync(TestUsers.Other)), HttpStatusCode.NotFound);

        // Nova's ip filter is re.match over the fixed IPv4 addresses: a prefix matches, a middle part does not.
        var addr = ips[0]!["addr"]!.GetValue<string>();
        async Task<bool> Listed(string query, string? microversion = null)
        {
            var list = await Gateway.GetAsync($"/v2.1/servers?{query}", Demo, microversion);
            AssertStatus(list, HttpStatusCode.OK);
            return list.Json!["servers"]!.AsArray().Any(s => s!["id"]!.GetValue<string>() == id);
        }

        Assert.That(await Listed("ip=" + Uri.EscapeDataString(addr)), Is.True);
        Assert.That(await Listed("ip=" + Uri.EscapeDataString(addr[..addr.LastIndexOf('.')] + @"\.")), Is.True, "a prefix");
        Assert.That(await Listed("ip=" + Uri.EscapeDataString(addr[addr.IndexOf('.')..])), Is.False, "re.match anchors at the start");
        Assert.That(await Listed("ip6=fe80", "2.5"), Is.False, "the link-local address is no fixed IP");
        Assert.That(await Listed("ip6=fe80"), Is.True, "before 2.5 a member's ip6 filter is dropped, as Nova drops it");
        AssertStatus(await Gateway.GetAsync("/v2.1/servers?ip=%5B", Demo), HttpStatusCode.BadRequest);

        AssertStatus(await DeleteAsync(Demo, id), HttpStatusCode.NoContent);
        await WaitGoneAsync(id);
    }

    [Test]
    public async Task Networks_From237_AreRequired_NoneGivesNoInterface_AndAListGivesThoseNetworks()
    {
        var missing = await PostServersAsync(Demo, CreateBody("lc-net", null), "2.37");
        AssertStatus(missing, HttpStatusCode.BadRequest);
        Assert.That(missing.Json!["badRequest"]!["message"]!.GetValue<string>(), Does.EndWith(". 'networks' is a required property"));

        var bare = await PostServersAsync(Demo, CreateBody("lc-net-none", "none"), "2.37");
        AssertStatus(bare, HttpStatusCode.Accepted);
        var bareId = bare.Json!["server"]!["id"]!.GetValue<string>();
        var bareActive = await WaitForStatusAsync(bareId, "ACTIVE");
        Assert.That(bareActive["addresses"]!.AsObject(), Is.Empty, "no interface, no addresses");
        Assert.That((await VmsOfServerAsync(HostNamed(bareActive["OS-EXT-SRV-ATTR:host"]!.GetValue<string>()), bareId)).Single().Vifs, Is.Empty);

        string storage;
        await using (var s = await OpenAsync(Lab[0]))
        {
            var records = (JsonObject)(await s.CallAsync("network.get_all_records", CancellationToken.None))!;
            storage = records.Select(r => r.Value!).Single(n => n["name_label"]!.GetValue<string>() == StorageNetwork)["uuid"]!.GetValue<string>();
        }

        var listed = await PostServersAsync(Demo, CreateBody("lc-net-two", new JsonArray(new JsonObject { ["uuid"] = storage },
            new JsonObject { ["uuid"] = storage, ["tag"] = "second" })), "2.37");
        AssertStatus(listed, HttpStatusCode.Accepted);
        var listedId = listed.Json!["server"]!["id"]!.GetValue<string>();
        var listedActive = await WaitForStatusAsync(listedId, "ACTIVE");
        var addresses = listedActive["addresses"]!.AsObject();
        Assert.That(addresses.Select(p => p.Key), Is.EqualTo(new[] { StorageNetwork }), "both interfaces on the one network asked for");
        Assert.That(addresses[StorageNetwork]!.AsArray().Select(a => a!["OS-EXT-IPS-MAC:mac_addr"]!.GetValue<string>()).Distinct().Count(), Is.EqualTo(2),
            "one address per interface");

        var unknown = Guid.NewGuid().ToString();
        var lost = await PostServersAsync(Demo, CreateBody("lc-net-lost", new JsonArray(new JsonObject { ["uuid"] = unknown })), "2.37");
        AssertStatus(lost, HttpStatusCode.Accepted);
        var lostId = lost.Json!["server"]!["id"]!.GetValue<string>();
        var failed = await WaitForStatusAsync(lostId, "ERROR");
        Assert.That(failed["fault"]!["message"]!.GetValue<string>(), Does.StartWith($"Network {unknown} could not be found"));
        foreach (var host in Lab.Hosts) Assert.That(await VmsOfServerAsync(host, lostId), Is.Empty, "the half-built VM is removed");

        foreach (var id in new[] { bareId, listedId, lostId }) AssertStatus(await DeleteAsync(Demo, id), HttpStatusCode.NoContent);
        foreach (var id in new[] { bareId, listedId, lostId }) await WaitGoneAsync(id);
    }

    [Test]
    public async Task Create_WithAKeyPair_ShowsItsName_AndHandsThePublicKeyToTheGuest()
    {
        var pair = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/os-keypairs", Demo, """{"keypair":{"name":"lc-key"}}""", "2.2");
        AssertStatus(pair, HttpStatusCode.Created);
        var publicKey = pair.Json!["keypair"]!["public_key"]!.GetValue<string>();

        var unknown = await PostServersAsync(Demo, $$$"""{"server":{"name":"lc-keyed","imageRef":"{{{Debian}}}","flavorRef":"w1","key_name":"no-such-key"}}""");
        AssertStatus(unknown, HttpStatusCode.BadRequest);
        Assert.That(unknown.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid key_name provided."));

        var created = await PostServersAsync(Demo, $$$"""{"server":{"name":"lc-keyed","imageRef":"{{{Debian}}}","flavorRef":"w1","key_name":"lc-key"}}""");
        AssertStatus(created, HttpStatusCode.Accepted);
        var id = created.Json!["server"]!["id"]!.GetValue<string>();
        var active = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(active["key_name"]!.GetValue<string>(), Is.EqualTo("lc-key"));
        var vm = (await VmsOfServerAsync(HostNamed(active["OS-EXT-SRV-ATTR:host"]!.GetValue<string>()), id)).Single();
        Assert.That(XapiValues.Map(vm.Record["xenstore_data"]).GetValueOrDefault("vm-data/public-keys/0/openssh-key"), Is.EqualTo(publicKey),
            "the guest reads its key from xenstore");

        AssertStatus(await DeleteAsync(Demo, id), HttpStatusCode.NoContent);
        await WaitGoneAsync(id);
    }

    [Test]
    public async Task Update_RenamesTheServerAndItsVm_SetsDescriptionAndAccessAddresses_AsNovaAnswers()
    {
        var id = await SeedServerAsync(2, "lc-update", memoryMb: 1024, diskGb: 1, dataMib: 1);
        var renamed = await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/servers/{id}", Demo, """{"server":{"name":"lc-updated","description":"front end"}}""", "2.19");
        AssertStatus(renamed, HttpStatusCode.OK);
        var body = renamed.Json!["server"]!;
        Assert.That((body["name"]!.GetValue<string>(), body["description"]!.GetValue<string>()), Is.EqualTo(("lc-updated", "front end")));
        Assert.That(body["OS-EXT-STS:vm_state"], Is.Null, "before 2.75 Nova's update view leaves the extended status out");
        Assert.That((await VmsOfServerAsync(Lab[2], id)).Single().NameLabel, Is.EqualTo("lc-updated"), "the VM is renamed with it");

        var latest = await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/servers/{id}", Demo, """{"server":{"accessIPv4":"192.0.2.10","accessIPv6":"2001:db8::10"}}""", "2.75");
        AssertStatus(latest, HttpStatusCode.OK);
        Assert.That((latest.Json!["server"]!["accessIPv4"]!.GetValue<string>(), latest.Json!["server"]!["accessIPv6"]!.GetValue<string>()),
            Is.EqualTo(("192.0.2.10", "2001:db8::10")), "a user's access addresses win over the guest's");
        Assert.That(latest.Json!["server"]!["OS-EXT-STS:vm_state"]!.GetValue<string>(), Is.EqualTo("active"), "from 2.75 the whole server");
        Assert.That((await ServerAsync(id))["name"]!.GetValue<string>(), Is.EqualTo("lc-updated"));

        async Task<(HttpStatusCode, string)> Put(string json, string microversion = "2.19", string? token = null)
        {
            var r = await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/servers/{id}", token ?? Demo, json, microversion);
            return (r.Status, r.Json?.AsObject().First().Value?["message"]?.GetValue<string>() ?? r.Text);
        }

        Assert.That(await Put("""{"server":{"accessIPv4":"300.1.1.1"}}"""),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid input for field/attribute accessIPv4. Value: 300.1.1.1. '300.1.1.1' is not a 'ipv4'")));
        Assert.That((await Put("""{"server":{"description":"x"}}""", "2.18")).Item2, Does.EndWith("Additional properties are not allowed ('description' was unexpected)"));
        Assert.That((await Put("""{"server":{"name":" padded"}}""")).Item1, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Put("""{"server":{"name":"x"}}""", token: await Gateway.TokenAsync(TestUsers.Reader))).Item1, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await Put("""{"server":{"name":"x"}}""", token: await Gateway.TokenAsync(TestUsers.Other))).Item1, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await VmsOfServerAsync(Lab[2], id)).Single().NameLabel, Is.EqualTo("lc-updated"), "refused updates rename nothing");
    }

    [Test]
    public async Task Networks_ThatCannotBeHonoured_Are400_AndCreateNothing()
    {
        async Task<(HttpStatusCode, string)> Post(JsonNode networks, string microversion = "2.37")
        {
            var r = await PostServersAsync(Demo, CreateBody("lc-net-bad", networks), microversion);
            return (r.Status, r.Json?.AsObject().First().Value?["message"]?.GetValue<string>() ?? r.Text);
        }

        var port = Guid.NewGuid();
        Assert.That(await Post(new JsonArray(new JsonObject { ["port"] = port.ToString() })),
            Is.EqualTo((HttpStatusCode.BadRequest, $"Port {port} could not be found.")));
        Assert.That(await Post(new JsonArray(new JsonObject { ["uuid"] = "abc" })),
            Is.EqualTo((HttpStatusCode.BadRequest, "Bad networks format: network uuid is not in proper format (abc)")));
        Assert.That(await Post(new JsonArray(new JsonObject { ["tag"] = "x" })),
            Is.EqualTo((HttpStatusCode.BadRequest, "Bad network format: missing 'uuid'")));
        var net = Guid.NewGuid();
        Assert.That((await Post(new JsonArray(new JsonObject { ["uuid"] = net.ToString(), ["fixed_ip"] = "10.0.0.9" }))).Item2,
            Does.StartWith("Fixed IP address 10.0.0.9 cannot be assigned"));
        Assert.That(await Post(new JsonArray(new JsonObject { ["uuid"] = net.ToString(), ["fixed_ip"] = "300.1.1.1" })),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid input for field/attribute fixed_ip. Value: 300.1.1.1. '300.1.1.1' is not valid under any of the given schemas")));
        Assert.That(await Post(JsonValue.Create("everything")!),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid input for field/attribute networks. Value: everything. 'everything' is not valid under any of the given schemas")));
        Assert.That(await Post(JsonValue.Create("auto")!, "2.36"),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid input for field/attribute networks. Value: auto. 'auto' is not of type 'array'")));
        Assert.That(await Post(new JsonArray(new JsonObject { ["uuid"] = net.ToString(), ["tag"] = "t" }), "2.31"),
            Is.EqualTo((HttpStatusCode.BadRequest, $"Invalid input for field/attribute 0. Value: {{'uuid': '{net}', 'tag': 't'}}. Additional properties are not allowed ('tag' was unexpected)")));
        var servers = (await Gateway.GetAsync("/v2.1/servers?name=lc-net-bad", Demo)).Json!["servers"]!.AsArray();
        Assert.That(servers, Is.Empty, "a refused create leaves no server");
    }

    [Test]
    public async Task SeededVm_WithoutAGuestAgent_ListsItsNetworkEmpty_UntilTheAgentReports()
    {
        var id = await SeedServerAsync(1, "lc-agentless", memoryMb: 1024, diskGb: 1, dataMib: 1, guestAgent: false);
        var before = await ServerAsync(id);
        Assert.That(before["addresses"]![ManagementNetwork]!.AsArray(), Is.Empty, "the interface is known, its address not yet");

        var vm = (await VmsOfServerAsync(Lab[1], id)).Single();
        Lab[1].Control.SetGuestAgent(vm.Uuid, present: true);
        var after = await Eventually.HoldsAsync(() => ServerAsync(id), s => s["addresses"]![ManagementNetwork]!.AsArray().Count == 1,
            TimeSpan.FromSeconds(20), "the guest's addresses in the next inventory pass");
        Assert.That(after["addresses"]![ManagementNetwork]![0]!["addr"]!.GetValue<string>(), Does.StartWith("10."));
    }

    [Test]
    public async Task Delete_OfALockedServer_Is409ForItsOwner_AndWorksForAnAdmin()
    {
        var created = await CreateAsync(Demo, "lc-locked", "w1");
        var id = created.Json!["server"]!["id"]!.GetValue<string>();
        await WaitForStatusAsync(id, "ACTIVE");
        await using (var scope = Gateway.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            var server = db.Servers.Single(s => s.Id == Guid.Parse(id));
            server.Lock("test", DateTime.UtcNow);
            await db.SaveChangesAsync();
        }

        var refused = await DeleteAsync(Demo, id);
        AssertStatus(refused, HttpStatusCode.Conflict);
        Assert.That(refused.Json!["conflictingRequest"]!["message"]!.GetValue<string>(), Is.EqualTo($"Instance {id} is locked"));
        AssertStatus(await DeleteAsync(Admin, id), HttpStatusCode.NoContent);
        await WaitGoneAsync(id);
    }

    [Test]
    public async Task Diagnostics_DescribeTheRunningVm_FromItsXapiRecords()
    {
        var created = await CreateAsync(Demo, "lc-diag", "w1");
        var id = created.Json!["server"]!["id"]!.GetValue<string>();
        await WaitForStatusAsync(id, "ACTIVE");

        var d = (await Gateway.GetAsync($"/v2.1/servers/{id}/diagnostics", Admin, "2.48")).Json!;
        Assert.That((d["state"]!.GetValue<string>(), d["driver"]!.GetValue<string>(), d["num_cpus"]!.GetValue<int>(), d["memory_details"]!["maximum"]!.GetValue<long>()),
            Is.EqualTo(("running", "xenapi", 1, 1024L)), "w1: 1 vCPU, 1024 MiB");
        Assert.That(d["num_disks"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(1));
        Assert.That(d["nic_details"]!.AsArray().Select(n => n!["mac_address"]!.GetValue<string>()), Has.All.Match("^([0-9a-f]{2}:){5}[0-9a-f]{2}$"));
        Assert.That(d["uptime"]!.GetValue<long>(), Is.GreaterThanOrEqualTo(0));
        var legacy = (await Gateway.GetAsync($"/v2.1/servers/{id}/diagnostics", Admin, "2.47")).Json!;
        Assert.That(legacy["memory_mb"]!.GetValue<long>(), Is.EqualTo(1024));
        AssertStatus(await Gateway.GetAsync($"/v2.1/servers/{id}/diagnostics", Demo, "2.48"), HttpStatusCode.Forbidden);

        AssertStatus(await DeleteAsync(Admin, id), HttpStatusCode.NoContent);
        await WaitGoneAsync(id);
    }

    private Task<ApiResponse> CreateAsync(string token, string name, string flavorRef, JsonObject? metadata = null)
    {
        var server = new JsonObject { ["name"] = name, ["imageRef"] = Debian, ["flavorRef"] = flavorRef };
        if (metadata is not null) server["metadata"] = metadata;
        return PostServersAsync(token, new JsonObject { ["server"] = server }.ToJsonString());
    }

    private const string ManagementNetwork = "Pool-wide network associated with eth0";
    private const string StorageNetwork = "VLAN 100 (storage)";

    private static string CreateBody(string name, JsonNode? networks)
    {
        var server = new JsonObject { ["name"] = name, ["imageRef"] = Debian, ["flavorRef"] = "w1" };
        if (networks is not null) server["networks"] = networks;
        return new JsonObject { ["server"] = server }.ToJsonString();
    }

    private async Task<ApiResponse> PostServersAsync(string token, string body, string? microversion = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2.1/servers") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Auth-Token", token);
        if (microversion is not null) request.Headers.Add("OpenStack-API-Version", "compute " + microversion);
        return await Gateway.SendAsync(request);
    }

    private async Task<ApiResponse> DeleteAsync(string token, string id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"/v2.1/servers/{id}");
        request.Headers.Add("X-Auth-Token", token);
        return await Gateway.SendAsync(request);
    }

    private async Task<ApiResponse> PutQuotaAsync(string project, string body, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v2.1/os-quota-sets/{project}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Auth-Token", token ?? Admin);
        return await Gateway.SendAsync(request);
    }

    private async Task WaitGoneAsync(string id) =>
        await Eventually.HoldsAsync(() => Gateway.GetAsync($"/v2.1/servers/{id}", Admin), r => r.Status == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), $"server {id} gone");

    private async Task AddFlavorAsync(Flavor flavor)
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        db.Flavors.Add(flavor);
        await db.SaveChangesAsync();
    }
}
