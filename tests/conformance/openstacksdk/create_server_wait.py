"""openstacksdk's cloud layer (Debian python3-openstacksdk) boots and deletes a server, waiting.

create_server(wait=True) is what Ansible's openstack.cloud.server calls: once the server is ACTIVE
it requires a non-empty "addresses" (else it raises "Server reached ACTIVE state without being
allocated an IP address" and deletes the server). Then it reads the addresses back through the
SDK's own derived fields, and delete_server(wait=True) polls until the server is gone.
One JSON object per line on stdout; tests/XenMigrate.Tests/Cli/OpenStackSdkTests.cs reads them.

Environment: OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, IMAGE_ID, FLAVOR, SERVER_NAME.
"""
import json
import os
import sys

import openstack


def report(**fields):
    sys.stdout.write(json.dumps(fields, default=str) + "\n")
    sys.stdout.flush()


def main():
    conn = openstack.connect(
        auth_url=os.environ["OS_AUTH_URL"],
        username=os.environ["OS_USERNAME"],
        password=os.environ["OS_PASSWORD"],
        project_name=os.environ["OS_PROJECT_NAME"],
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
        identity_api_version="3",
    )
    server = conn.create_server(
        os.environ["SERVER_NAME"], image=os.environ["IMAGE_ID"], flavor=os.environ["FLAVOR"], wait=True, timeout=120)
    report(step="created", id=server.id, status=server.status, addresses=server.addresses,
           private_v4=server.private_v4, public_v4=server.public_v4, interface_ip=server.interface_ip)

    fetched = conn.get_server(server.id)
    report(step="fetched", status=fetched.status, public_v4=fetched.public_v4, private_v4=fetched.private_v4)

    deleted = conn.delete_server(server.id, wait=True, timeout=120)
    report(step="deleted", deleted=deleted, gone=conn.get_server(server.id) is None)
    report(step="done")


if __name__ == "__main__":
    main()
