using System.Net;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public class FlavorsApiTests : GatewayFixture
{
    protected override async Task SeedAsync()
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var hidden = new Flavor("private-1", "p1.secret", 1024, 1, 10, isPublic: false);
        var disabled = new Flavor("old-1", "o1.retired", 256, 1, 1);
        disabled.Disable();
        var special = new Flavor("6", "x1.special", 3072, 2, 30, swapMb: 1024, description: "for tests");
        special.SetExtraSpec("hw:numa_nodes", "1");
        db.Flavors.AddRange(hidden, disabled, special);
        await db.SaveChangesAsync();
    }

    private static List<string> Ids(ApiResponse r) => r.Json!["flavors"]!.AsArray().Select(f => f!["id"]!.GetValue<string>()).ToList();

    [Test]
    public async Task List_ShowsThePublicEnabledFlavorsSortedByFlavorId()
    {
        var r = await Gateway.GetAsync("/v2.1/flavors", DemoToken);
        Assert.That(Ids(r), Is.EqualTo(new[] { "1", "2", "3", "4", "5", "6" }));
        Assert.That(r.Json!["flavors"]![0]!.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "id", "name", "links" }));
    }

    [Test]
    public async Task Detail_ForMembers_HidesPrivateAndDisabledFlavors_EvenWithIsPublicNone()
    {
        Assert.That(Ids(await Gateway.GetAsync("/v2.1/flavors/detail?is_public=None", DemoToken)), Does.Not.Contain("private-1").And.Not.Contain("old-1"));
    }

    [TestCase("None", true, true)]
    [TestCase("False", true, false)]
    [TestCase("True", false, true)]
    public async Task Detail_ForAdmins_HonoursIsPublic(string isPublic, bool seesPrivate, bool seesPublic)
    {
        var ids = Ids(await Gateway.GetAsync($"/v2.1/flavors/detail?is_public={isPublic}", AdminToken));
        Assert.That(ids.Contains("private-1"), Is.EqualTo(seesPrivate));
        Assert.That(ids.Contains("1"), Is.EqualTo(seesPublic));
    }

    [Test]
    public async Task Detail_ForAdmins_DefaultsToPublicOnly_IncludingDisabled()
    {
        var ids = Ids(await Gateway.GetAsync("/v2.1/flavors/detail", AdminToken));
        Assert.That(ids, Does.Not.Contain("private-1"));
        Assert.That(ids, Does.Contain("old-1"));
    }

    [Test]
    public async Task BadIsPublic_Is400()
    {
        var r = await Gateway.GetAsync("/v2.1/flavors/detail?is_public=perhaps", AdminToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid is_public filter [perhaps]"));
    }

    [Test]
    public async Task MinRamAndMinDisk_Filter()
    {
        Assert.That(Ids(await Gateway.GetAsync("/v2.1/flavors?minRam=4096", DemoToken)), Is.EqualTo(new[] { "3", "4", "5" }));
        Assert.That(Ids(await Gateway.GetAsync("/v2.1/flavors?minDisk=40&minRam=8192", DemoToken)), Is.EqualTo(new[] { "4", "5" }));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors?minRam=lots", DemoToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Paging_FollowsFlavorsLinks()
    {
        var page = await Gateway.GetAsync("/v2.1/flavors/detail?limit=4", DemoToken);
        Assert.That(Ids(page), Is.EqualTo(new[] { "1", "2", "3", "4" }));
        var next = page.Json!["flavors_links"]![0]!["href"]!.GetValue<string>();
        Assert.That(next, Is.EqualTo($"{Gateway.BaseUrl}/v2.1/flavors/detail?limit=4&marker=4"));
        Assert.That(Ids(await Gateway.GetAsync(next, DemoToken)), Is.EqualTo(new[] { "5", "6" }));
        var missing = await Gateway.GetAsync("/v2.1/flavors?marker=99", DemoToken);
        Assert.That(missing.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(missing.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("marker [99] not found"));
    }

    [Test]
    public async Task SortKeyAndDirection_AreHonoured()
    {
        Assert.That(Ids(await Gateway.GetAsync("/v2.1/flavors?sort_key=memory_mb&sort_dir=desc", DemoToken))[0], Is.EqualTo("5"));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors?sort_key=colour", DemoToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Show_AtV21_HasEmptySwapString_AndAt275AnInteger()
    {
        var v21 = (await Gateway.GetAsync("/v2.1/flavors/2", DemoToken)).Json!["flavor"]!;
        Assert.That(v21["swap"]!.GetValue<string>(), Is.Empty);
        Assert.That(v21["name"]!.GetValue<string>(), Is.EqualTo("m1.small"));
        Assert.That(v21.AsObject().ContainsKey("description"), Is.False);

        var v275 = (await Gateway.GetAsync("/v2.1/flavors/6", DemoToken, "2.75")).Json!["flavor"]!;
        Assert.That(v275["swap"]!.GetValue<int>(), Is.EqualTo(1024));
        Assert.That(v275["description"]!.GetValue<string>(), Is.EqualTo("for tests"));
        Assert.That(v275["extra_specs"]!["hw:numa_nodes"]!.GetValue<string>(), Is.EqualTo("1"));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/2", DemoToken, "2.75")).Json!["flavor"]!["swap"]!.GetValue<int>(), Is.Zero);
    }

    [Test]
    public async Task UnknownQueryParameters_AreIgnoredBefore275_AndRefusedFrom275()
    {
        Assert.That((await Gateway.GetAsync("/v2.1/flavors?colour=blue", DemoToken)).Status, Is.EqualTo(HttpStatusCode.OK));
        var strict = await Gateway.GetAsync("/v2.1/flavors?colour=blue", DemoToken, "2.75");
        Assert.That(strict.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(strict.Json!["badRequest"]!["message"]!.GetValue<string>(), Does.Contain("colour"));
    }

    [Test]
    public async Task UnknownFlavor_Is404WithNovasMessage()
    {
        var r = await Gateway.GetAsync("/v2.1/flavors/m1.small", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(r.Json!["itemNotFound"]!["message"]!.GetValue<string>(), Is.EqualTo("Flavor m1.small could not be found."));
    }

    [Test]
    public async Task ExtraSpecs_ListAndShowOne()
    {
        var all = await Gateway.GetAsync("/v2.1/flavors/6/os-extra_specs", DemoToken);
        Assert.That(all.Json!["extra_specs"]!["hw:numa_nodes"]!.GetValue<string>(), Is.EqualTo("1"));
        var one = await Gateway.GetAsync("/v2.1/flavors/6/os-extra_specs/hw:numa_nodes", DemoToken);
        Assert.That(one.Json!["hw:numa_nodes"]!.GetValue<string>(), Is.EqualTo("1"));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/6/os-extra_specs/nope", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/99/os-extra_specs", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await Gateway.GetAsync("/v2.1/flavors/1/os-extra_specs", DemoToken)).Json!["extra_specs"]!.AsObject(), Is.Empty);
    }
}
