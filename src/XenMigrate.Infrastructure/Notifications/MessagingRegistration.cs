using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace XenMigrate.Infrastructure.Notifications;

public static class MessagingRegistration
{
    /// <summary>MassTransit on RabbitMQ when Messaging:RabbitMqHost is set, otherwise in memory; and the outbox dispatcher.</summary>
    public static IServiceCollection AddNotifications(this IServiceCollection services, IConfiguration configuration, GatewayRoleOptions role)
    {
        var options = configuration.GetSection(MessagingOptions.Section).Get<MessagingOptions>() ?? new MessagingOptions();
        services.AddMassTransit(bus =>
        {
            // MassTransit 8.4+ reports anonymous usage to usage-tracking.masstransit.io; a gateway
            // sends nothing to a third party its operators did not configure.
            bus.DisableUsageTelemetry();
            if (string.IsNullOrWhiteSpace(options.RabbitMqHost))
            {
                bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
                return;
            }

            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(options.RabbitMqHost, options.RabbitMqVirtualHost, h =>
                {
                    h.Username(options.RabbitMqUsername);
                    h.Password(options.RabbitMqPassword);
                });
                cfg.ConfigureEndpoints(context);
            });
        });
        if (role.RunsWorker) services.AddHostedService<OutboxDispatcher>();
        return services;
    }
}
