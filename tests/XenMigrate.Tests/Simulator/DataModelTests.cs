using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.Tests.Simulator;

public class DataModelTests
{
    [Test]
    public void EmbeddedDataModel_IsTheSharedContract()
    {
        var shared = File.ReadAllBytes(Path.Combine(SharedContract.Root, "contract", "xapi", "xenapi-datamodel.json"));
        using var embedded = typeof(XapiDataModel).Assembly.GetManifestResourceStream("XenMigrate.XapiSimulator.Model.xenapi-datamodel.json")!;
        using var copy = new MemoryStream();
        embedded.CopyTo(copy);

        Assert.That(copy.ToArray(), Is.EqualTo(shared), "refresh src/XenMigrate.XapiSimulator/Model/xenapi-datamodel.json from shared/contract/xapi");
    }

    [Test]
    public void ParameterDefaults_AreTrailingParametersOfRealMessages()
    {
        Assert.That(XapiDataModel.Instance.Defaults.All.Count(), Is.EqualTo(56), "every param_default of datamodel*.ml for the model's messages");
        foreach (var (cls, message, param) in XapiDataModel.Instance.Defaults.All)
        {
            var m = XapiDataModel.Instance.FindMessage($"{cls}.{message}");
            Assert.That(m, Is.Not.Null, $"{cls}.{message}");
            var index = m!.Parameters.ToList().FindIndex(p => p.Name == param);
            Assert.That(index, Is.GreaterThanOrEqualTo(m.RequiredCount), $"{cls}.{message}.{param} is not trailing");
        }
    }

    [Test]
    public void HandlersWithBehaviour_AreAllMessagesOfTheDataModel()
    {
        Assert.That(HandlerRegistry.Instance.ExplicitMethods, Is.Not.Empty);
        Assert.That(HandlerRegistry.Instance.ExplicitMethods.Select(XapiDataModel.Instance.FindMessage), Has.None.Null);
    }

    [TestCase("VM.get_record", 2, 2)]
    [TestCase("VM.snapshot", 3, 4)]
    [TestCase("session.login_with_password", 2, 4)]
    [TestCase("VM.migrate_send", 7, 8)]
    [TestCase("VDI.copy", 2, 5)]
    [TestCase("VDI.introduce", 10, 19)]
    public void ParameterCounts(string method, int required, int all)
    {
        var message = XapiDataModel.Instance.FindMessage(method)!;

        Assert.That(message.RequiredCount, Is.EqualTo(required));
        Assert.That(message.Parameters, Has.Count.EqualTo(all));
    }
}
