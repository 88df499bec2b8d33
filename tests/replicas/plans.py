#!/usr/bin/env python3
"""A plan made on one replica is applied on another (run by .ci/replicas).

Standard library only, raw JSON-RPC of protocol 2026-07-28 (no tasks extension: the apply
answers at once). Plans live in the store the replicas share, under their caller:

1. `inventory_plan_changes` on the first replica: three Bigdata.com connectors to create.
2. `inventory_apply_plan` with that plan id on the third replica: applied, three done.
3. The same plan id again, on the first: refused (a plan is used once).
4. A new plan of the same file, on the third: nothing left to do.

Usage: plans.py REPLICA_A_URL REPLICA_B_URL TOKEN
"""

import json
import os
import sys
import time

from mcp2026 import post

A, B, TOKEN = sys.argv[1:4]
RUN = f"plans-{os.getpid()}"


def call(url, tool, arguments):
    status, answer = post(url, TOKEN, "tools/call", {"name": tool, "arguments": arguments}, tool)
    if status != 200:
        fail(f"{tool} answered HTTP {status}: {str(answer)[:300]}")
    if "result" not in answer:
        fail(f"{tool} answered {answer}")
    return answer["result"].get("structuredContent") or {}, answer["result"].get("isError", False)


def fail(message):
    print(f"FAIL (plans): {message}")
    sys.exit(1)


desired = {"bigdata": {"connectors": [
    {"type": "email", "label": f"{RUN} inbox {i}", "config": {"allowed_emails": [f"desk{i}@broker.example"]}}
    for i in range(3)]}}
started = time.time()
plan, err = call(A, "inventory_plan_changes", {"desired": desired})
if err or plan.get("summary", {}).get("create") != 3:
    fail(f"the plan: {plan}")
applied, err = call(B, "inventory_apply_plan", {"plan_id": plan["plan_id"]})
if err or applied.get("applied") is not True or applied.get("summary") != {"done": 3}:
    fail(f"the apply on another replica: {applied}")
again, err = call(A, "inventory_apply_plan", {"plan_id": plan["plan_id"]})
if not err or again.get("error", {}).get("field") != "plan_id":
    fail(f"a plan applied twice: {again}")
nothing, err = call(B, "inventory_plan_changes", {"desired": desired})
if err or nothing.get("changes_anything") is not False:
    fail(f"planned again: {nothing}")
summary = {"plan": plan["plan_id"], "planned_on": A, "applied_on": B,
           "applied": applied["summary"], "took_s": round(time.time() - started, 2)}
print("plans:", json.dumps(summary))
