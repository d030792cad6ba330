#!/usr/bin/env python3
"""Compares the alerts a run stored (and, optionally, published) with an uninterrupted replay's, by alert id.

  scripts/compare-alerts.py expected.jsonl POSTGRES_URI [topic.jsonl]

expected.jsonl: `./vigil replay events.jsonl --alerts expected.jsonl`; POSTGRES_URI: what psql takes, e.g.
postgresql://vigil@127.0.0.1:55432/postgres; topic.jsonl: security-alerts as a read_committed consumer saw it, e.g.
`kcat -C -b HOST:PORT -t security-alerts -X isolation.level=read_committed -e -q > topic.jsonl`.
Two lines: the built-in per-user rules, and the rest (the IP and tenant rules of the shared stage, which merges the
partitions back into event-time order, so its ids match a replay's too unless a partition was silent past the idle
timeout while others carried on, see docs/OPERATIONS.md, "Scaling out"; and the declarative rules).
"""
import json, subprocess, sys, collections
per_user = ('BRUTE_FORCE', 'ACCOUNT_TAKEOVER', 'IMPOSSIBLE_TRAVEL', 'NEW_COUNTRY', 'RAPID_ACTIVITY', 'BEHAVIOR_ANOMALY', 'RESET_BOMBING')
replayed = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
db = sys.argv[2]
stored = dict(line.split('|', 1) for line in subprocess.run(['psql', db, '-Atc', "SELECT alert_id, rule FROM security_alerts"],
                                                               capture_output=True, text=True, check=True).stdout.split())
for label, wanted in (('per-user alerts', lambda r: r in per_user), ('other alerts (IP and tenant rules, declarative rules)', lambda r: r not in per_user)):
    expected = {a['alertId'] for a in replayed if wanted(a['rule'])}
    rows = {i for i, r in stored.items() if wanted(r)}
    print(f"{label}: expected {len(expected)}, stored {len(rows)}, missing {len(expected - rows)}, extra {len(rows - expected)}")
if len(sys.argv) > 3:
    expected = {a['alertId'] for a in replayed}
    topic = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
    recs = collections.Counter(f"{a['alertId']}/{a['evidence'].get('occurrences')}" for a in topic)
    print(f"topic (read_committed): {sum(recs.values())} records, {len(recs)} distinct, repeated {sum(1 for c in recs.values() if c > 1)}, ids equal expected: {set(k.split('/')[0] for k in recs) == expected}")
