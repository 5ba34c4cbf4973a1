"""The system at a glance, for `python bot.py status` and `GET /status`: one dict, and its one-screen text."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

HOUR = 3600.0
LOG_TAIL_BYTES = 4 * 1024 * 1024


def recent_events(log_path: Path, since: float) -> list[dict[str, Any]]:
    """Supervisor log records newer than `since`, read from the end of the file only."""
    try:
        size = log_path.stat().st_size
        with open(log_path, "rb") as fh:
            fh.seek(max(0, size - LOG_TAIL_BYTES))
            lines = fh.read().splitlines()[1 if size > LOG_TAIL_BYTES else 0:]
    except OSError:
        return []
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since))
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if str(record.get("ts", "")) >= cutoff:
            out.append(record)
    return out


def supervisors_view(statuses: list[Any]) -> list[dict[str, Any]]:
    out = []
    for status in statuses:
        kind = "root" if status.key == "root" else status.key.split("/")[0]
        children = []
        for c in status.children:
            child_kind = ("shard" if "/" in c.key else c.key) if status.key == "root" else kind
            children.append({"key": c.key, "kind": child_kind, "status": c.status, "pid": c.pid,
                             "restarts": c.restarts, "pending": c.pending, "idle_s": round(c.idle_s, 1),
                             "last_error": c.last_error})
        out.append({"key": status.key, "pid": status.pid, "node": getattr(status, "node", ""), "children": children})
    return out


def collect(statuses: list[Any], extra: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    supervisors = supervisors_view(statuses)
    events = recent_events(data_dir / "supervisor.log", time.time() - HOUR)
    by_event = Counter((r.get("event"), r.get("kind")) for r in events)
    parked = [dict(c, supervisor=s["key"]) for s in supervisors for c in s["children"] if c["status"] == "parked"]
    shards = [
        {"key": s["key"], "pid": s["pid"], "node": s["node"],
         "live": sum(1 for c in s["children"] if c["pid"] is not None)}
        for s in supervisors if s["key"] != "root"
    ]
    by_node: dict[str, dict[str, Any]] = {}
    for s in shards:
        entry = by_node.setdefault(s["node"], {"name": s["node"], "shards": [], "live": 0})
        entry["shards"].append(s["key"])
        entry["live"] += s["live"]
    return {
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "supervisors": supervisors,
        "shards": shards,
        "live_actors": sum(s["live"] for s in shards),
        "nodes": sorted(by_node.values(), key=lambda n: n["name"]) if any(by_node) else [],
        "restarts_last_hour": sum(n for (event, _), n in by_event.items() if event == "restarted"),
        "parks_last_hour": sum(n for (event, _), n in by_event.items() if event == "parked"),
        "parked": parked,
        "pid": os.getpid(),
        **extra,
    }


def live_by_kind(status: dict[str, Any]) -> dict[str, int]:
    """How many actors of each kind have a process, from a collected status."""
    counts: dict[str, int] = {}
    for supervisor in status["supervisors"]:
        for child in supervisor["children"]:
            if child["pid"] is not None:
                counts[child["kind"]] = counts.get(child["kind"], 0) + 1
    return counts


def shards_text(status: dict[str, Any]) -> str:
    """The edge's gateway shards when it is sharded: "  (shards 0/2 up, 1/2 down 12 s)"; else nothing."""
    shards = status.get("gateway_shards") or []
    if not shards or (len(shards) == 1 and shards[0].get("of", 1) == 1):
        return ""
    return "  (shards " + ", ".join(
        f"{s['id']}/{s['of']} " + ("up" if s["connected"] else f"down {s['down_s']:.0f} s") for s in shards) + ")"


def render(status: dict[str, Any]) -> str:
    """One screen for people."""
    lines = [f"Tzurot status  {status['time']}  uptime {status.get('uptime_s', 0) / 60:.0f} min  "
             f"gateway {'connected' if status.get('gateway_connected') else 'DISCONNECTED'}{shards_text(status)}"]
    lines.append(f"live actors {status['live_actors']}  restarts/h {status['restarts_last_hour']}  "
                 f"parks/h {status['parks_last_hour']}  store {_megabytes(status.get('store_bytes'))}")
    lines.append("shards: " + "  ".join(f"{s['key']}={s['live']}" for s in status["shards"]))
    for node in status.get("nodes") or []:
        lines.append(f"node {node['name'] or '(leader)'}: {len(node['shards'])} shard(s) ({' '.join(node['shards'])}), "
                     f"{node['live']} live actor(s)")
    slots = status.get("ai_slots") or {}
    lines.append(f"AI slots {slots.get('in_use', '?')}/{slots.get('capacity', '?')} in use "
                 f"(ceiling {slots.get('ceiling', '?')}), "
                 f"{slots.get('waiting', '?')} waiting  breaker {status.get('breaker', '?')}")
    edge = status.get("edge", {})
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(edge.get("dropped", {}).items())) or "none"
    lines.append(f"edge: {edge.get('forwarded', 0)} forwarded; dropped {dropped}")
    invalid = status.get("discord_invalid")
    if invalid:
        lines.append(f"discord invalid requests {invalid['count']}/{invalid['budget']} in 10 min "
                     f"(pace {invalid['pace']})")
    outboxes = status.get("outboxes") or []
    if outboxes:
        lines.append("deepest outboxes: " + ", ".join(f"#{c} {n}" for c, n in outboxes))
    inboxes = status.get("inboxes") or []
    if inboxes:
        lines.append("deepest user queues: " + ", ".join(f"{u} {n}" for u, n in inboxes))
    top = status.get("top_users") or []
    if top:
        lines.append("top users (1 h): " + ", ".join(f"{u} ({n})" for u, n in top))
    if status["parked"]:
        lines.append("PARKED:")
        lines += [f"  {p['supervisor']}/{p['key']}: {p['last_error'][:100]}" for p in status["parked"]]
    return "\n".join(lines)


def _megabytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.1f} MB"
