using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using MassTransit;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>Nova versioned notifications for a resize, consumed from a real RabbitMQ broker.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class NotificationTests : WorkflowFixture
{
    private readonly ConcurrentQueue<VersionedNotification> _received = new();
    private IBusControl? _consumer;

    protected override IEnumerable<string> ExtraGatewayArgs
    {
        get
        {
            TestEnvironment.Require(TestEnvironment.RabbitMqHost is not null, "RabbitMQ (XENMIGRATE_TEST_RABBITMQ)");
            return [$"--Messaging:RabbitMqHost={TestEnvironment.RabbitMqHost}"];
        }
    }

    [OneTimeSetUp]
    public async Task Subscribe()
    {
        _consumer = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(TestEnvironment.RabbitMqHost, "/", h =>
            {
                h.Username("guest");
                h.Password("guest");
            });
            cfg.ReceiveEndpoint($"xenmigrate-test-{Guid.NewGuid():N}", e =>
            {
                e.AutoDelete = true;
                e.Durable = false;
                e.Handler<VersionedNotification>(context =>
                {
                    _received.Enqueue(context.Message);
                    return Task.CompletedTask;
                });
            });
        });
        await _consumer.StartAsync();
    }

    [OneTimeTearDown]
    public async Task Unsubscribe()
    {
        if (_consumer is not null) await _consumer.StopAsync();
    }

    private List<VersionedNotification> For(string serverId) =>
        _received.Where(n => JsonNode.Parse(n.Payload)!["nova_object.data"]!["uuid"]!.GetValue<string>() == serverId).ToList();

    [Test]
    public async Task ResizeAndConfirm_PublishNovasEvents_InOrder_OverRabbitMq()
    {
        var id = await SeedServerAsync(0, "notify-1", memoryMb: 1024, diskGb: 1);
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");

        string[] expected =
        [
            "instance.resize_prep.start", "instance.resize_prep.end", "instance.resize.start", "instance.resize.end",
            "instance.resize_finish.start", "instance.resize_finish.end", "instance.resize_confirm.start", "instance.resize_confirm.end",
        ];
        var events = await Eventually.HoldsAsync(() => Task.FromResult(For(id)), e => e.Count >= expected.Length, TimeSpan.FromSeconds(20),
            "eight notifications");
        Assert.That(events.Select(e => e.EventType), Is.EqualTo(expected));

        var prep = JsonNode.Parse(events[0].Payload)!;
        Assert.That(prep["nova_object.name"]!.GetValue<string>(), Is.EqualTo("InstanceActionResizePrepPayload"));
        Assert.That(prep["nova_object.data"]!["new_flavor"]!["nova_object.data"]!["flavorid"]!.GetValue<string>(), Is.EqualTo("w2"));
        Assert.That(prep["nova_object.data"]!["task_state"]!.GetValue<string>(), Is.EqualTo("resize_prep"));
        var finished = JsonNode.Parse(events[5].Payload)!["nova_object.data"]!;
        Assert.That(finished["state"]!.GetValue<string>(), Is.EqualTo("resized"));
        Assert.That(events.Select(e => e.Priority), Is.All.EqualTo("INFO"));
        Assert.That(events[0].PublisherId, Does.StartWith("nova-compute:"));
    }

    [Test]
    public async Task FailedResize_PublishesResizeError()
    {
        var id = await SeedServerAsync(1, "notify-fail", memoryMb: 1024, diskGb: 1);
        foreach (var host in new[] { Lab[0], Lab[2] }) host.Faults.FailNext("VM.create", "INTERNAL_ERROR", ["injected"], times: 10);
        try
        {
            AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
            var events = await Eventually.HoldsAsync(() => Task.FromResult(For(id)), e => e.Any(n => n.EventType == "instance.resize.error"),
                TimeSpan.FromSeconds(60), "resize.error");
            var error = events.Single(n => n.EventType == "instance.resize.error");
            Assert.That(error.Priority, Is.EqualTo("ERROR"));
            Assert.That(JsonNode.Parse(error.Payload)!["nova_object.data"]!["fault"], Is.Not.Null);
        }
        finally
        {
            foreach (var host in new[] { Lab[0], Lab[2] }) host.Faults.Clear();
        }
    }
}
