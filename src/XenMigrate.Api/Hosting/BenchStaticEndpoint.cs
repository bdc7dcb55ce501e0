using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// The API benchmark's baseline (bench/README.md): <c>GET /bench/static-json</c> answers a fixed
/// server body (Nova's own <c>server-get-resp.json</c> sample) through the same middleware as the
/// Nova routes, without token check or database. Mapped only when <c>Bench:StaticEndpoint=true</c>;
/// never part of the product's default routes.
/// </summary>
internal static class BenchStaticEndpoint
{
    public const string Switch = "Bench:StaticEndpoint";

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """
        {"server":{"accessIPv4":"1.2.3.4","accessIPv6":"80fe::","addresses":{"private":[{"addr":"192.168.1.30","OS-EXT-IPS-MAC:mac_addr":"00:0c:29:0d:11:74","OS-EXT-IPS:type":"fixed","version":4}]},"created":"2013-09-03T04:01:32Z","flavor":{"id":"1","links":[{"href":"http://openstack.example.com/6f70656e737461636b20342065766572/flavors/1","rel":"bookmark"}]},"hostId":"92154fab69d5883ba2c8622b7e65f745dd33257221c07af363c51b29","id":"0e44cc9c-e052-415d-afbf-469b0d384170","image":{"id":"70a599e0-31e7-49b7-b260-868f441e862b","links":[{"href":"http://openstack.example.com/6f70656e737461636b20342065766572/images/70a599e0-31e7-49b7-b260-868f441e862b","rel":"bookmark"}]},"key_name":null,"links":[{"href":"http://openstack.example.com/v2/6f70656e737461636b20342065766572/servers/0e44cc9c-e052-415d-afbf-469b0d384170","rel":"self"},{"href":"http://openstack.example.com/6f70656e737461636b20342065766572/servers/0e44cc9c-e052-415d-afbf-469b0d384170","rel":"bookmark"}],"metadata":{"My Server Name":"Apache1"},"name":"new-server-test","config_drive":"","OS-DCF:diskConfig":"AUTO","OS-EXT-AZ:availability_zone":"us-west","OS-EXT-SRV-ATTR:host":"b8b357f7100d4391828f2177c922ef93","OS-EXT-SRV-ATTR:hypervisor_hostname":"fake-mini","OS-EXT-SRV-ATTR:instance_name":"instance-00000001","OS-EXT-STS:power_state":1,"OS-EXT-STS:task_state":null,"OS-EXT-STS:vm_state":"active","os-extended-volumes:volumes_attached":[{"id":"volume_id1"},{"id":"volume_id2"}],"OS-SRV-USG:launched_at":"2013-09-23T13:37:00.880302","OS-SRV-USG:terminated_at":null,"progress":0,"security_groups":[{"name":"default"}],"status":"ACTIVE","tenant_id":"6f70656e737461636b20342065766572","updated":"2013-09-03T04:01:33Z","user_id":"admin"}}
        """);

    public static void MapBenchStaticEndpointIfEnabled(this WebApplication app)
    {
        if (!app.Configuration.GetValue<bool>(Switch)) return;
        app.MapGet("/bench/static-json", () => Results.Bytes(Body, "application/json")).ExcludeFromDescription();
    }
}
