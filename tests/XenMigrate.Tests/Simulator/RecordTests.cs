using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.Tests.Simulator;

/// <summary>The fixed objects of a standalone host and the generic record accessors.</summary>
public class RecordTests : SimulatorFixture
{
    [Test]
    public async Task Pool_IsOneHostPool_WithTheLocalSrAsDefault()
    {
        var pools = (await Xapi.CallAsync("pool.get_all_records"))!.AsObject();

        Assert.That(pools, Has.Count.EqualTo(1));
        var pool = pools.Single().Value!;
        Assert.That((string?)pool["master"], Is.EqualTo(Host.HostRef));
        Assert.That((string?)pool["default_SR"], Is.EqualTo(Host.SrRef));
    }

    [Test]
    public async Task Host_CarriesVersionsAddressAndResidents()
    {
        var host = await Xapi.RecordAsync("host", Host.HostRef);

        Assert.That((long)host["API_version_major"]!, Is.EqualTo(2));
        Assert.That((long)host["API_version_minor"]!, Is.EqualTo(21));
        Assert.That((string?)host["software_version"]!["product_version"], Is.EqualTo("8.4.0"));
        Assert.That((string?)host["address"], Is.EqualTo("127.0.0.1"));
        Assert.That((bool)host["enabled"]!, Is.True);
        Assert.That((string?)host["control_domain"], Is.EqualTo(Host.ControlDomainRef));
        Assert.That(host["resident_VMs"]!.AsArray().Select(r => (string?)r), Does.Contain(Host.ControlDomainRef));
        Assert.That(host["PBDs"]!.AsArray(), Has.Count.EqualTo(4), "the local SR, the tools and ISO libraries, the DVD drive");
    }

    [Test]
    public async Task ControlDomain_IsRunningAndResident()
    {
        var dom0 = await Xapi.RecordAsync("VM", Host.ControlDomainRef);

        Assert.That((bool)dom0["is_control_domain"]!, Is.True);
        Assert.That((string?)dom0["power_state"], Is.EqualTo("Running"));
        Assert.That((string?)dom0["resident_on"], Is.EqualTo(Host.HostRef));
        Assert.That((long)dom0["domid"]!, Is.Zero);
        var stop = await Xapi.FailureAsync("VM.hard_shutdown", Host.ControlDomainRef);
        Assert.That(stop.Code, Is.EqualTo("OPERATION_NOT_ALLOWED"));
    }

    [Test]
    public async Task LocalSr_AndItsPbd_LookLikeAnInstallersLocalStorage()
    {
        var sr = await Xapi.RecordAsync("SR", Host.SrRef);
        var pbd = await Xapi.RecordAsync("PBD", (string)sr["PBDs"]![0]!);

        Assert.That((string?)sr["type"], Is.EqualTo("ext"));
        Assert.That((bool)sr["shared"]!, Is.False);
        Assert.That((string?)sr["content_type"], Is.Not.EqualTo("iso"));
        Assert.That((string?)sr["other_config"]!["i18n-key"], Is.EqualTo("local-storage"));
        Assert.That((long)sr["physical_size"]!, Is.EqualTo(4 * GiB));
        Assert.That(sr["physical_utilisation"]!.GetValueKind(), Is.EqualTo(JsonValueKind.Number));
        Assert.That(sr["virtual_allocation"]!.GetValueKind(), Is.EqualTo(JsonValueKind.Number));
        Assert.That((string?)pbd["host"], Is.EqualTo(Host.HostRef));
        Assert.That((bool)pbd["currently_attached"]!, Is.True);
    }

    [Test]
    public async Task ManagementNetwork_Exists()
    {
        var networks = (await Xapi.CallAsync("network.get_all_records"))!.AsObject();

        Assert.That(networks.Select(n => n.Key), Does.Contain(Host.NetworkRef));
        Assert.That((string?)networks[Host.NetworkRef]!["bridge"], Is.EqualTo("xenbr0"));
    }

    [Test]
    public async Task Records_HoldEveryFieldOfTheDataModel()
    {
        foreach (var (className, reference) in new[] { ("VM", Host.ControlDomainRef), ("host", Host.HostRef), ("SR", Host.SrRef), ("pool", Host.PoolRef) })
        {
            var record = await Xapi.RecordAsync(className, reference);
            var fields = XapiDataModel.Instance.GetClass(className).Fields.Select(f => f.Name);
            Assert.That(record.Select(p => p.Key), Is.EquivalentTo(fields), className);
        }
    }

    [Test]
    public async Task UuidLookups_AndFieldGetters()
    {
        var uuid = await Xapi.CallForStringAsync("VM.get_uuid", Host.ControlDomainRef);

        Assert.That(await Xapi.CallForStringAsync("VM.get_by_uuid", uuid), Is.EqualTo(Host.ControlDomainRef));
        Assert.That(await Xapi.CallForStringAsync("VM.get_power_state", Host.ControlDomainRef), Is.EqualTo("Running"));
        Assert.That((bool)(await Xapi.CallAsync("VM.get_is_control_domain", Host.ControlDomainRef))!, Is.True);
        var unknown = await Xapi.FailureAsync("VM.get_by_uuid", "00000000-0000-0000-0000-000000000000");
        Assert.That(unknown.Code, Is.EqualTo("UUID_INVALID"));
        var wrongClass = await Xapi.FailureAsync("VM.get_record", Host.SrRef);
        Assert.That(wrongClass.Code, Is.EqualTo("HANDLE_INVALID"));
        Assert.That(wrongClass.Parameters, Is.EqualTo(new[] { "VM", Host.SrRef }));
    }

    [Test]
    public async Task OtherConfig_AddAndRemove()
    {
        var vm = (await SeedVmAsync(UniqueName("cfg"), "Halted")).VmRef;

        await Xapi.CallAsync("VM.add_to_other_config", vm, "xenmigrate:server-id", "42");
        Assert.That((string?)(await Xapi.CallAsync("VM.get_other_config", vm))!["xenmigrate:server-id"], Is.EqualTo("42"));
        var duplicate = await Xapi.FailureAsync("VM.add_to_other_config", vm, "xenmigrate:server-id", "43");
        Assert.That(duplicate.Code, Is.EqualTo("MAP_DUPLICATE_KEY"));
        await Xapi.CallAsync("VM.remove_from_other_config", vm, "xenmigrate:server-id");
        Assert.That((await Xapi.CallAsync("VM.get_other_config", vm))!.AsObject().ContainsKey("xenmigrate:server-id"), Is.False);
    }

    [Test]
    public async Task GetAll_ListsEveryObjectOfTheClass()
    {
        var seeded = await SeedVmAsync(UniqueName("all"), "Halted");

        var vms = (await Xapi.CallAsync("VM.get_all"))!.AsArray().Select(r => (string?)r).ToList();
        var vbds = (await Xapi.CallAsync("VBD.get_all_records"))!.AsObject();
        var vifs = (await Xapi.CallAsync("VIF.get_all_records"))!.AsObject();

        Assert.That(vms, Does.Contain(seeded.VmRef).And.Contain(Host.ControlDomainRef));
        Assert.That((string?)vbds[seeded.VbdRef]!["VDI"], Is.EqualTo(seeded.VdiRef));
        Assert.That((string?)vifs[seeded.VifRef]!["network"], Is.EqualTo(Host.NetworkRef));
        Assert.That((await Xapi.CallAsync("VGPU.get_all_records"))!.AsObject(), Is.Empty, "classes the host has no objects of answer empty");
    }

    [Test]
    public async Task ComputeFreeMemory_IsTotalMinusResidentVms()
    {
        var before = (long)(await Xapi.CallAsync("host.compute_free_memory", Host.HostRef))!;
        var vm = await SeedVmAsync(UniqueName("mem"), memoryBytes: 2 * GiB);

        var after = (long)(await Xapi.CallAsync("host.compute_free_memory", Host.HostRef))!;
        Assert.That(before - after, Is.EqualTo(2 * GiB));
        await Xapi.CallAsync("VM.hard_shutdown", vm.VmRef);
        Assert.That((long)(await Xapi.CallAsync("host.compute_free_memory", Host.HostRef))!, Is.EqualTo(before));
    }

    [Test]
    public async Task Templates_AreListedAsTemplates()
    {
        var vms = (await Xapi.CallAsync("VM.get_all_records"))!.AsObject();

        Assert.That(vms.Select(v => v.Value!).Where(v => (bool)v["is_a_template"]! && (bool)v["is_default_template"]!), Is.Not.Empty);
    }
}
