namespace XenMigrate.Infrastructure.Notifications;

/// <summary>
/// A Nova versioned notification as published on the bus: event_type, priority, publisher_id and
/// the payload (<c>{"nova_object.name":…,"nova_object.namespace":"nova","nova_object.version":…,"nova_object.data":{…}}</c>) as JSON.
/// </summary>
public sealed record VersionedNotification(string EventType, string Priority, string PublisherId, string Payload, DateTime Timestamp, Guid MessageId);

/// <summary>A notification waiting in the outbox; written in the same transaction as the change it reports.</summary>
public sealed class OutboxMessage
{
    public long Id { get; set; }
    public Guid MessageId { get; set; } = Guid.NewGuid();
    public string EventType { get; set; } = string.Empty;
    public string Priority { get; set; } = "INFO";
    public string PublisherId { get; set; } = string.Empty;
    public string Payload { get; set; } = string.Empty;
    public DateTime CreatedAt { get; set; }
    public DateTime? PublishedAt { get; set; }
}
