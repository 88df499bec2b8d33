#!/usr/bin/env python3
"""An MCP task outlives the replica that started it (run by .ci/replicas).

Standard library only, raw JSON-RPC of protocol 2026-07-28 with the tasks extension
(`io.modelcontextprotocol/tasks` declared in every request's `_meta`), as the extension's text
shows it: `tools/call` answered with `resultType: "task"`, then `tasks/get` (with the task id in
`Mcp-Name`) until the task ends.

1. A PDC ingest is started as a task on one replica directly; once the task reports that it
   follows the vendor's job, that replica is SIGKILLed.
2. `tasks/get` through the load balancer: another replica, reading the shared store, takes the
   task over when the killed one's lease runs out and follows the same job to its end.
3. The result is the tool's (`{job_id, status, job}`), and the simulated PDC started exactly
   one job for it.
4. With REPLICAS_TASK_PERSON and REPLICAS_RECORD (the sandbox's --record file): the task is
   that person's (TOKEN is theirs), and every request for its job, before the kill and after
   the takeover, reached PDC with that person's own token.

Usage: tasks.py REPLICA_URL LB_URL TOKEN KILL_PID PDC_BASE_URL PDC_ACCESS_TOKEN
"""

import json
import os
import signal
import sys
import time
import urllib.parse
import urllib.request

from mcp2026 import post

REPLICA, LB, TOKEN, KILL_PID, PDC_URL, PDC_TOKEN = sys.argv[1:7]
SOURCE = "9dc0da7a0000000000000005"  # analytics-snowflake in the sandbox
TASKS = "io.modelcontextprotocol/tasks"


def rpc(url, method, params, name=None, extra=None):
    return post(url, TOKEN, method, params, name, extensions={TASKS: {}}, extra=extra, timeout=15)


def fail(message):
    print(f"FAIL (tasks): {message}")
    sys.exit(1)


started = time.time()
status, created = rpc(REPLICA, "tools/call",
                      {"name": "pdc_ingest_metadata", "arguments": {"id": SOURCE}},
                      name="pdc_ingest_metadata",
                      # The argument the tool's schema marks `x-mcp-header: Id` (SEP-2243).
                      extra={"mcp-param-id": SOURCE})
if status != 200 or "result" not in created:
    fail(f"tools/call answered {status}: {created}")
task = created["result"]
if task.get("resultType") != "task" or task.get("status") != "working":
    fail(f"not a task: {task}")
task_id = task["taskId"]
print(f"task {task_id}: created on the replica (ttlMs {task['ttlMs']}, pollIntervalMs {task['pollIntervalMs']})")

# Wait until it follows the job (its id is then in the shared record), then kill the replica.
for _ in range(100):
    status, got = rpc(REPLICA, "tasks/get", {"taskId": task_id}, name=task_id)
    message = (got.get("result") or {}).get("statusMessage", "") if status == 200 else ""
    if message.startswith("job "):
        break
    time.sleep(0.1)
else:
    fail("the task never reported following its job")
os.kill(int(KILL_PID), signal.SIGKILL)
killed = time.time()
print(f"task {task_id}: '{message}' — replica pid {KILL_PID} killed")

# Through the load balancer: another replica takes it over once the lease has run out.
messages, polls = [], 0
deadline = time.time() + 90
while time.time() < deadline:
    status, got = rpc(LB, "tasks/get", {"taskId": task_id}, name=task_id)
    polls += 1
    if status != 200:
        continue  # the load balancer may still try the dead replica once
    if "error" in got:
        fail(f"tasks/get answered {got['error']}")
    result = got["result"]
    if result.get("statusMessage") and (not messages or messages[-1] != result["statusMessage"]):
        messages.append(result["statusMessage"])
    if result["status"] != "working":
        break
    time.sleep(0.5)
else:
    fail(f"the task never ended: {messages}")
took = time.time() - killed
if result["status"] != "completed":
    fail(f"the task ended {result['status']}: {result}")
tool_result = result["result"]
content = tool_result.get("structuredContent") or {}
if tool_result.get("isError") or content.get("status") != "COMPLETED" or not content.get("job_id"):
    fail(f"not the tool's result: {tool_result}")
if "resumed by another server process" not in messages:
    fail(f"no other replica took the task over: {messages}")

# The vendor started one job: the next job id does not exist.
job = content["job_id"]
nxt = f"{job[:-1]}{int(job[-1], 16) + 1:x}"
req = urllib.request.Request(f"{PDC_URL}/jobs/{nxt}/status",
                             headers={"authorization": f"Bearer {PDC_TOKEN}"})
try:
    urllib.request.urlopen(req, timeout=5)
    fail(f"a second job {nxt} exists: the ingest was started twice")
except urllib.error.HTTPError as e:
    if e.code not in (400, 404):
        fail(f"the sandbox answered {e.code} for {nxt}")

summary = {"task": task_id, "job": job, "killed_after_s": round(killed - started, 1),
           "ended_after_kill_s": round(took, 1), "polls_after_kill": polls,
           "messages": messages, "jobs_started": 1}
person, record = os.environ.get("REPLICAS_TASK_PERSON"), os.environ.get("REPLICAS_RECORD")
if person and record:
    # The job's requests at PDC: the ingest that started it, and every status poll.
    lines = [json.loads(l) for l in open(record)]
    polls_at_vendor = [l for l in lines if l["vendor"] == "pdc" and l["path"].endswith(f"/jobs/{job}/status")]
    starts = [l for l in lines if l["vendor"] == "pdc" and l["path"].endswith("/jobs/execute/metadata/ingest")]
    by = {}
    for l in polls_at_vendor + starts:
        by[l["credential"] or "none"] = by.get(l["credential"] or "none", 0) + 1
    summary["person"] = person
    summary["job_requests_at_vendor_by_credential"] = by
    if set(by) != {person} or not starts or len(polls_at_vendor) < 2:
        fail(f"the task's requests at PDC did not all carry {person}'s own token: {by}")
print("tasks:", json.dumps(summary))
out = os.environ.get("REPLICAS_TASKS_SUMMARY")
if out:
    with open(out, "w") as f:
        json.dump(summary, f)
