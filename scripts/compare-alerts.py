#!/usr/bin/env python3
"""Compares the per-user alerts a run stored (and, optionally, published) with an uninterrupted replay's.

  scripts/compare-alerts.py expected.jsonl POSTGRES_URI [topic.jsonl]

expected.jsonl: `./vigil replay events.jsonl --alerts expected.jsonl`; POSTGRES_URI: what psql takes, e.g.
postgresql://vigil@127.0.0.1:55432/postgres; topic.jsonl: security-alerts as a read_committed consumer saw it, e.g.
`kcat -C -b HOST:PORT -t security-alerts -X isolation.level=read_committed -e -q > topic.jsonl`.
Only the per-user rules are compared, as the automated fault tests do: the IP and tenant rules see every
partition's events interleaved in arrival order, which a restart may change.
"""
import json, subprocess, sys, collections
rules = ('BRUTE_FORCE', 'ACCOUNT_TAKEOVER', 'IMPOSSIBLE_TRAVEL', 'NEW_COUNTRY', 'RAPID_ACTIVITY', 'BEHAVIOR_ANOMALY', 'RESET_BOMBING')
expected = {a['alertId'] for a in map(json.loads, open(sys.argv[1])) if a['rule'] in rules}
db = sys.argv[2]
rows = subprocess.run(['psql', db, '-Atc', "SELECT alert_id FROM security_alerts WHERE rule IN (%s)" % ','.join("'%s'" % r for r in rules)],
                      capture_output=True, text=True, check=True).stdout.split()
print(f"per-user alerts: expected {len(expected)}, stored {len(rows)}, missing {len(expected - set(rows))}, extra {len(set(rows) - expected)}")
if len(sys.argv) > 3:
    topic = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
    recs = collections.Counter(f"{a['alertId']}/{a['evidence'].get('occurrences')}" for a in topic if a['rule'] in rules)
    print(f"topic (read_committed): {sum(recs.values())} records, {len(recs)} distinct, repeated {sum(1 for c in recs.values() if c > 1)}, ids equal expected: {set(k.split('/')[0] for k in recs) == expected}")
