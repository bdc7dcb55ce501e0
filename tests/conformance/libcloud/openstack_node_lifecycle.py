"""Apache libcloud's default OpenStack driver (Debian python3-libcloud, API 1.1 over Nova 2.1).

It lists images through Nova's image proxy (GET /v2.1/images/detail), sizes through flavors,
creates a node, waits until it runs with an address (wait_until_running on its private IPs),
reboots it softly and destroys it. One JSON object per line on stdout;
tests/XenMigrate.Tests/Cli/LibcloudTests.cs reads them.

Environment: AUTH_URL (Keystone's token URL: libcloud posts to an auth URL with a path as given), OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, IMAGE_ID, FLAVOR_ID, NODE_NAME.
"""
import json
import os
import sys

from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider


def report(**fields):
    sys.stdout.write(json.dumps(fields, default=str) + "\n")
    sys.stdout.flush()


def main():
    driver = get_driver(Provider.OPENSTACK)(
        os.environ["OS_USERNAME"], os.environ["OS_PASSWORD"],
        ex_force_auth_url=os.environ["AUTH_URL"], ex_force_auth_version="3.x_password",
        ex_tenant_name=os.environ["OS_PROJECT_NAME"], ex_domain_name="Default", ex_force_service_region="RegionOne")

    images = driver.list_images()
    report(step="images", ids=[i.id for i in images], names=[i.name for i in images])
    image = next(i for i in images if i.id == os.environ["IMAGE_ID"])
    size = next(s for s in driver.list_sizes() if s.id == os.environ["FLAVOR_ID"])
    report(step="size", id=size.id, ram=size.ram, disk=size.disk)

    node = driver.create_node(name=os.environ["NODE_NAME"], size=size, image=image)
    report(step="created", id=node.id)
    (running, ips), = driver.wait_until_running([node], wait_period=1, timeout=120, ssh_interface="private_ips")
    report(step="running", state=running.state, private_ips=ips, public_ips=running.public_ips)

    report(step="rebooted", accepted=driver.reboot_node(running))
    (after, _), = driver.wait_until_running([running], wait_period=1, timeout=120, ssh_interface="private_ips")
    report(step="after_reboot", state=after.state)

    report(step="destroyed", accepted=driver.destroy_node(after))
    report(step="done", running=NodeState.RUNNING)


if __name__ == "__main__":
    main()
