"""Who answers the requests of a decided night: the policy, or a default?

For each night with decisions, the night's snapshot is published into a scratch folder (the
same `publish` as the nightly job, from the warehouse's service_* tables and the night's
policy), and every request of the night (a listen on that date, by a user with an arm) is
answered by it as /abtest would. `before` is what the nightly tables alone answer with the
pair's own decision (the rest fell to the track default); `after` is the share the service
answers by the policy (a candidate's row, the model's computed answer, or its cold start).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import duckdb

from scoring.decide.serving import Snapshot, publish


def night_coverage(warehouse: Path) -> list[dict]:
    """One row per decided night: requests and the share each source answers."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        nights = con.execute(
            "select decision_date, any_value(model_version) from decisions.track_default_decisions "
            "group by decision_date order by decision_date"
        ).fetchall()
        rows = []
        for night, default_version in nights:
            requests = con.execute(
                """
                select l.user_id, l.track_id, a.arm, r.answered_by
                from marts.fct_listens as l
                inner join decisions.user_arms as a
                    on a.decision_date = l.listen_date and a.user_id = l.user_id
                left join intermediate.int_decision_requests as r using (listen_id)
                where l.listen_date = ?
                """,
                [night],
            ).fetchall()
            if not requests:
                continue
            policy = default_version.removeprefix("track-default:")
            with tempfile.TemporaryDirectory(prefix="skipcache-coverage-") as scratch:
                # each request is answered in the arm the user had that night (user_arms)
                publish(con, Path(scratch), night, "coverage", policy, {"model": 1.0})
                snap = Snapshot(Path(scratch))
                after = Counter(snap.answer(u, t, arm).source for u, t, arm, _ in requests)
            before = Counter(by or "unknown_track" for _, _, _, by in requests)
            n = len(requests)
            rows.append(
                {
                    "decision_date": night.isoformat(),
                    "policy": policy,
                    "requests": n,
                    "before_pair_share": before["pair"] / n,
                    "after_policy_share": (n - after["track_default"]) / n,
                    "after_sources": dict(after),
                }
            )
        return rows
    finally:
        con.close()


def format_coverage(rows: list[dict]) -> str:
    lines = [f"{'night':<11} {'requests':>8} {'before':>7} {'after':>7}  after, by source"]
    for r in rows:
        sources = ", ".join(f"{k} {v}" for k, v in sorted(r["after_sources"].items()))
        lines.append(
            f"{r['decision_date']:<11} {r['requests']:>8} {r['before_pair_share']:>7.1%} "
            f"{r['after_policy_share']:>7.1%}  {sources}"
        )
    n = sum(r["requests"] for r in rows)
    if n:
        before = sum(r["before_pair_share"] * r["requests"] for r in rows) / n
        after = sum(r["after_policy_share"] * r["requests"] for r in rows) / n
        lines.append(f"{'all':<11} {n:>8} {before:>7.1%} {after:>7.1%}")
    return "\n".join(lines)
