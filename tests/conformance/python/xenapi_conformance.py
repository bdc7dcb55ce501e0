"""The official Python binding, XenAPI.py (Debian python3-os-xenapi), against a simulated host.

It speaks XML-RPC (POST /RPC2): login, VM.get_all_records, the hidden get_all_records_where, an
Async. call awaited through task.get_status / get_result, event.from, logout. One JSON object per
line on stdout; tests/XenMigrate.Tests/Simulator/Conformance/PythonXenApiTests.cs reads them.

Environment: XAPI_URL, XAPI_USER, XAPI_PASSWORD, VM_NAME.
"""
import json
import os
import re
import sys
import time

from os_xenapi.client import XenAPI


def report(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main():
    session = XenAPI.Session(os.environ["XAPI_URL"])
    session.xenapi.login_with_password(os.environ["XAPI_USER"], os.environ["XAPI_PASSWORD"], "1.0", "xenmigrate-conformance")
    report(step="login", session=session.handle, api_version=session.API_version)

    records = session.xenapi.VM.get_all_records()
    name = os.environ["VM_NAME"]
    vm, record = next((ref, r) for ref, r in records.items() if r["name_label"] == name)
    report(step="get_all_records", count=len(records), vm=vm,
           memory_static_max=record["memory_static_max"], memory_type=type(record["memory_static_max"]).__name__,
           is_a_template_type=type(record["is_a_template"]).__name__, power_state=record["power_state"])

    where = session.xenapi.VM.get_all_records_where('field "name__label"="%s" and not field "is_a_template"="true"' % name)
    report(step="get_all_records_where", refs=sorted(where.keys()))

    task = session.xenapi.Async.VM.snapshot(vm, "python snapshot")
    deadline = time.time() + 30
    while session.xenapi.task.get_status(task) == "pending":
        if time.time() > deadline:
            raise RuntimeError("the task is still pending")
        time.sleep(0.05)
    status = session.xenapi.task.get_status(task)
    result = session.xenapi.task.get_result(task)
    match = re.fullmatch(r"<value>(OpaqueRef:[^<]+)</value>", result)
    snapshot = match.group(1) if match else None
    snapshot_of = session.xenapi.VM.get_snapshot_of(snapshot) if snapshot else None
    session.xenapi.task.destroy(task)
    report(step="async", task=task, status=status, result=result, snapshot=snapshot, snapshot_of=snapshot_of)

    batch = getattr(session.xenapi.event, "from")(["vm"], "", 0.0)
    report(step="event_from", events=len(batch["events"]), token=batch["token"],
           count_type=type(batch["valid_ref_counts"]["vm"]).__name__)

    try:
        session.xenapi.VM.get_record("OpaqueRef:nonexistent")
        report(step="failure", details=None)
    except XenAPI.Failure as failure:
        report(step="failure", details=failure.details)

    session.xenapi.session.logout()
    report(step="done")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # report everything; the C# test shows it
        report(step="error", message=repr(error))
        sys.exit(1)
