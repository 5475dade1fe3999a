#!/usr/bin/env python3
"""An external taskd worker, Python 3 standard library only.

It claims tasks of its kinds (long-polling), does the work while sending heartbeats with progress, and completes
or fails each task under its lease. A 409 (lease_lost) means the task was cancelled or the lease expired: the
worker drops the task and goes on.

The work, by input:
  "text"                   -> the text reversed
  {"numbers": [1, 2, 3]}   -> their sum
  {"sleep_ms": N}          -> works N ms (heartbeating), then answers {"slept_ms": N}
  {"fail": "message"}      -> fails the task, without retry
anything else fails the task (retried per its max_attempts).

Environment: TASKD_URL (default http://localhost:8080), TASKD_TOKEN (a bearer token, when API_TOKENS is set),
TASKD_KINDS (comma-separated, default "reverse"), TASKD_WORKER_ID (default "worker.py@<host>:<pid>"),
TASKD_WAIT_MS (long-poll, default 30000), TASKD_HEARTBEAT_MS (default 5000), TASKD_MAX_TASKS (stop after this
many tasks; default: never).
"""

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

URL = os.environ.get("TASKD_URL", "http://localhost:8080").rstrip("/")
TOKEN = os.environ.get("TASKD_TOKEN", "")
KINDS = [k.strip() for k in os.environ.get("TASKD_KINDS", "reverse").split(",") if k.strip()]
WORKER_ID = os.environ.get("TASKD_WORKER_ID", f"worker.py@{socket.gethostname()}:{os.getpid()}")
WAIT_MS = int(os.environ.get("TASKD_WAIT_MS", "30000"))
HEARTBEAT_S = int(os.environ.get("TASKD_HEARTBEAT_MS", "5000")) / 1000
MAX_TASKS = int(os.environ.get("TASKD_MAX_TASKS", "0"))


class LeaseLost(Exception):
    """taskd answered 409: this worker no longer holds the task."""


def log(message):
    print(message, flush=True)


def call(path, body, timeout):
    headers = {"content-type": "application/json"}
    if TOKEN:
        headers["authorization"] = f"Bearer {TOKEN}"
    request = urllib.request.Request(
        URL + path, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        answer = json.loads(err.read() or b"{}")
        if err.code == 409 and answer.get("code") == "lease_lost":
            raise LeaseLost() from None
        raise RuntimeError(f"{path}: {err.code} {answer}") from None


def heartbeat(task, lease, percent, message):
    return call(
        f"/v1/tasks/{task['id']}/heartbeat",
        {"token": lease["token"], "progress": {"percent": percent, "message": message}},
        timeout=30,
    )


def work(task, lease):
    """The task's result; raises ValueError to fail it (retry in the error's second argument)."""
    value = task["input"]
    heartbeat(task, lease, 0, "started")
    if isinstance(value, str):
        return value[::-1]
    if isinstance(value, dict) and "numbers" in value:
        return sum(value["numbers"])
    if isinstance(value, dict) and "sleep_ms" in value:
        until = time.monotonic() + value["sleep_ms"] / 1000
        while time.monotonic() < until:
            time.sleep(min(HEARTBEAT_S, max(0.0, until - time.monotonic())))
            left = max(0.0, until - time.monotonic())
            done = 100 * (1 - left / (value["sleep_ms"] / 1000 or 1))
            heartbeat(task, lease, round(done, 1), "sleeping")
        return {"slept_ms": value["sleep_ms"]}
    if isinstance(value, dict) and "fail" in value:
        raise ValueError(str(value["fail"]), False)
    raise ValueError(f"cannot work on input {json.dumps(value)}", True)


def run_one(task):
    lease = task["lease"]
    try:
        try:
            result = work(task, lease)
        except ValueError as err:
            message, retry = err.args
            call(
                f"/v1/tasks/{task['id']}/fail",
                {"token": lease["token"], "error": {"message": message}, "retry": retry},
                timeout=30,
            )
            log(f"failed {task['id']}: {message}")
            return
        call(f"/v1/tasks/{task['id']}/complete", {"token": lease["token"], "result": result}, timeout=30)
        log(f"completed {task['id']}")
    except LeaseLost:
        log(f"lease lost, dropping {task['id']}")


def main():
    handled = 0
    while MAX_TASKS == 0 or handled < MAX_TASKS:
        try:
            answer = call(
                "/v1/workers/claim",
                {"kinds": KINDS, "max": 1, "wait_ms": WAIT_MS, "worker_id": WORKER_ID},
                timeout=WAIT_MS / 1000 + 30,
            )
        except (OSError, RuntimeError) as err:
            # taskd is away or draining (503): try again a little later.
            log(f"claim failed: {err}")
            time.sleep(1)
            continue
        for task in answer["tasks"]:
            log(f"claimed {task['id']} (attempt {task['attempt']})")
            run_one(task)
            handled += 1


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
