"""The report's verdict in words: what the A/B arms and the hold-out say, and what they do not."""

from __future__ import annotations

import pandas as pd

from scoring.ops.report.data import MIN_REQUESTS_PER_ARM, MIN_USERS_PER_ARM, ReportData


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _pts(v: float) -> str:
    return f"{100 * v:+.1f} points"


def _cost(v: float) -> str:
    return f"{v:,.2f}"


def _interval_words(low: float, high: float, scale: float = 100.0, unit: str = "") -> str:
    """'95% interval a to b, which excludes zero' in plain words."""
    fmt = (lambda v: f"{scale * v:+.1f}") if scale == 100.0 else (lambda v: f"{v:+.3f}")
    if low > 0 or high < 0:
        where = "which excludes zero"
    else:
        where = "which includes zero: no difference is measurable"
    return f"95% interval {fmt(low)} to {fmt(high)}{unit}, {where}"


def _arm_row(data: ReportData, arm: str) -> dict | None:
    rows = data.arms[data.arms["arm"] == arm] if len(data.arms) else data.arms
    return rows.iloc[0].to_dict() if len(rows) else None


def _enough(row: dict | None, users: str, requests: str) -> bool:
    return bool(row) and row[users] >= MIN_USERS_PER_ARM and row[requests] >= MIN_REQUESTS_PER_ARM


def verdict(data: ReportData) -> list[str]:
    """The verdict in plain words: the A/B result (or why there is none), each difference with
    whether its interval excludes zero, what the arms' caching cost and bought, and the model
    against every baseline on its hold-out."""
    lines = []
    cmp = data.comparison
    acc = cmp[(cmp["metric"] == "accuracy") & (cmp["arm"] == "model")]
    hits = cmp[(cmp["metric"] == "cache_hit_rate") & (cmp["arm"] == "model")]
    if not len(acc) or not len(hits) or int(hits.iloc[0]["requests"]) == 0:
        lines.append(
            "**No A/B outcome yet.** No night with decisions has its listens loaded yet; the "
            "comparison appears once the next day's data is in (or after a backfill)."
        )
    else:
        lines += _ab_paragraphs(data, acc.iloc[0], hits.iloc[0])
    cost = _cost_paragraph(data, hits.iloc[0] if len(hits) else None)
    if cost:
        lines.append(cost)
    lines.append(_model_paragraph(data))
    m = data.model
    if m.seed_replica_accuracy is not None:
        lines.append(
            f"The seed's way of measuring (skip rates over all rows, random split) would "
            f"report {_pct(m.seed_replica_accuracy)} accuracy on the same data; measured "
            f"honestly on later days it is {_pct(m.metric('model', 'accuracy'))}, against "
            f"{_pct(m.metric('constant', 'accuracy'))} for always predicting a play-through and "
            f"{_pct(m.metric('user_history', 'accuracy'))} for the user's past skip rate. "
            f"The gap is leakage, not skill."
        )
    return lines


def _ab_paragraphs(data: ReportData, c: pd.Series, h: pd.Series) -> list[str]:
    ref = c["reference_arm"]
    span = (
        f"{int(c['nights'])} nights ({pd.Timestamp(c['first_night']):%Y-%m-%d} to "
        f"{pd.Timestamp(c['last_night']):%Y-%m-%d})"
    )
    model_row, ref_row = _arm_row(data, "model"), _arm_row(data, ref)
    arms_text = "; ".join(
        f"{r['arm']} arm: {int(r['users_assigned']):,} users assigned, "
        f"{int(r['users_with_requests']):,} with requests, {int(r['requests']):,} requests, "
        f"{int(r['covered_requests']):,} of them covered by a pair decision "
        f"(from {int(r['users_with_covered_requests']):,} users)"
        for r in (data.arms.to_dict("records") if len(data.arms) else [])
    )
    lines = []
    covered = int(c["requests"]), int(c["reference_requests"] or 0)
    if min(covered) == 0:
        lines.append(
            f"**The decisions cannot be compared yet.** Over {span}, "
            f"{covered[0]:,} of the model arm's {int(h['requests']):,} requests and "
            f"{covered[1]:,} of the {ref} arm's {int(h['reference_requests']):,} were answered "
            f"by a pair decision: the candidate pairs did not include what the users went on to "
            f"play, so there is no accuracy to compare. The other requests were answered by the "
            f"per-track defaults. Widen the candidates (vars candidate_*) before reading an A/B "
            f"result."
        )
    else:
        enough = _enough(model_row, "users_with_covered_requests", "covered_requests") and _enough(
            ref_row, "users_with_covered_requests", "covered_requests"
        )
        numbers = (
            f"the model arm's pair decisions were right for {_pct(c['metric_value'])} of its "
            f"{covered[0]:,} covered requests ({int(c['user_count']):,} users), the {ref} arm's "
            f"for {_pct(c['reference_metric_value'])} of {covered[1]:,} "
            f"({int(c['reference_user_count']):,} users): a difference of "
            f"{_pts(c['difference'])} "
            f"({_interval_words(c['difference_low'], c['difference_high'])})."
        )
        if not enough:
            lines.append(
                f"**Too little data to pick a winner.** Over {span}, {numbers} An arm needs at "
                f"least {MIN_USERS_PER_ARM} users and {MIN_REQUESTS_PER_ARM} requests covered by "
                f"pair decisions before its interval can be trusted (users, not requests, are "
                f"the independent units), so this report names no winner: keep collecting "
                f"nights."
            )
        elif c["difference_low"] > 0:
            lines.append(
                f"**The model's decisions were right more often than the {ref} "
                f"rule's.** Over {span}, {numbers}"
            )
        elif c["difference_high"] < 0:
            lines.append(
                f"**The model's decisions were right less often than the {ref} "
                f"rule's.** Over {span}, {numbers}"
            )
        else:
            lines.append(
                f"**The data cannot tell the model's decisions from the {ref} "
                f"rule's.** Over {span}, {numbers}"
            )
    if arms_text:
        lines.append(f"Arms: {arms_text}.")
    model_policies = data.policies[data.policies["arm"] == "model"] if len(data.policies) else []
    if len(model_policies) and not model_policies["model_version"].str.startswith("svc-").all():
        used = ", ".join(
            f"{r.model_version} on {int(r.nights)} night{'s' * (r.nights > 1)}"
            for r in model_policies.itertuples()
        )
        how = (
            "never"
            if not model_policies["model_version"].str.startswith("svc-").any()
            else "not always"
        )
        lines.append(
            f"Note: the model arm was {how} decided by a promoted model ({used}); where a "
            f"baseline decided, this A/B compares that baseline with the {ref} rule, not the "
            f"model."
        )
    enough_hits = _enough(model_row, "users_with_requests", "requests") and _enough(
        ref_row, "users_with_requests", "requests"
    )
    if (
        h["difference_low"] == h["difference_high"] == 0
        and h["metric_value"] == h["reference_metric_value"]
    ):
        hit_text = (
            f"Cache hit rate: both arms found the track cached for {_pct(h['metric_value'])} of "
            f"their requests ({int(h['requests']):,} and {int(h['reference_requests']):,}); "
            f"there is no difference to measure."
        )
    else:
        hit_text = (
            f"Cache hit rate: the model arm found the track cached for "
            f"{_pct(h['metric_value'])} of its {int(h['requests']):,} requests, the {ref} arm "
            f"for {_pct(h['reference_metric_value'])} of {int(h['reference_requests']):,}: "
            f"{_pts(h['difference'])} "
            f"({_interval_words(h['difference_low'], h['difference_high'])})."
        )
    if not enough_hits:
        hit_text += " Too few users to conclude either way."
    lines.append(hit_text)
    return lines


def _cost_paragraph(data: ReportData, h: pd.Series | None) -> str | None:
    if not len(data.arms) or data.arms["nights"].isna().all():
        return None
    parts = []
    for r in data.arms.to_dict("records"):
        if pd.isna(r["nights"]):
            continue
        parts.append(
            f"{r['arm']} arm: {_cost(r['cached_but_skipped_cost'])} on "
            f"{int(r['cached_but_skipped_pairs']):,} pairs cached but skipped and "
            f"{_cost(r['cached_never_requested_cost'])} on "
            f"{int(r['cached_never_requested_pairs']):,} pairs cached but never requested, "
            f"{_cost(r['wasted_cost_per_night'])} a night "
            f"({r['wasted_cost_per_user_night']:.4f} per assigned user a night)"
        )
    text = (
        "Storage cost of caching that was not used, in the export's unit (track_storage's "
        "daily_cost: the cost of keeping a track stored for one day; the export names no "
        "currency), summed over the cached (user, track) pairs of every night: "
        + "; ".join(parts)
        + "."
    )
    model_row = _arm_row(data, "model")
    ref = h["reference_arm"] if h is not None else "naive"
    ref_row = _arm_row(data, ref)
    if model_row and ref_row and ref_row["wasted_cost_per_user_night"]:
        ratio = model_row["wasted_cost_per_user_night"] / ref_row["wasted_cost_per_user_night"]
        text += (
            f" Per user and night, the model arm spent {ratio:.1f} times what the {ref} arm "
            f"spent on unused caching."
        )
        if h is not None and int(h["requests"]) > 0:
            if h["metric_value"] == h["reference_metric_value"]:
                bought = f"nothing: both arms' cache hit rate was {_pct(h['metric_value'])}"
            elif h["difference_low"] > 0:
                bought = (
                    f"a cache hit rate {100 * h['difference']:.1f} points higher "
                    f"(interval above zero)"
                )
            elif h["difference_high"] < 0:
                bought = (
                    f"a cache hit rate {100 * -h['difference']:.1f} points lower "
                    f"(interval below zero): it paid more for less"
                )
            else:
                bought = (
                    f"no measurable change in cache hit rate ({_pts(h['difference'])}, "
                    f"interval includes zero)"
                )
            text += f" What that bought: {bought}."
    return text


def _model_paragraph(data: ReportData) -> str:
    m = data.model
    names = {
        "naive": "the naive rule",
        "constant": "always play",
        "user_history": "the user's past skip rate",
    }
    parts, ties = [], []
    model_auc = data.auc.get("model", m.metric("model", "roc_auc"))
    for base, label in names.items():
        auc = data.auc.get(base, m.metric(base, "roc_auc"))
        interval = data.auc_intervals.get(base)
        if auc is None or pd.isna(auc) or model_auc is None or pd.isna(model_auc):
            continue
        diff = model_auc - auc
        if interval is None:
            parts.append(f"{label} {auc:.3f} ({diff:+.3f})")
            continue
        low, high = interval
        words = "beats" if low > 0 else "loses to" if high < 0 else "only ties"
        if words == "only ties":
            ties.append(label)
        parts.append(
            f"it {words} {label} ({auc:.3f}; difference {diff:+.3f}, "
            f"{_interval_words(low, high, scale=1.0)})"
        )
    listens = f"{int(m.holdout_rows):,} listens"
    window = (
        f"{pd.Timestamp(m.holdout_start_date):%Y-%m-%d} to "
        f"{pd.Timestamp(m.holdout_end_date):%Y-%m-%d}"
    )
    if m.promoted:
        who = f"The model behind the last decisions, {m.model_version}, passed"
        then = ""
    else:
        who = f"The newest model, {m.model_version}, did not pass"
        then = f" The model arm decided with {m.decision_policy} instead."
    auc_text = f"{model_auc:.3f}" if model_auc is not None and pd.notna(model_auc) else "n/a"
    text = (
        f"{who} the gate on its hold-out ({listens}, {window}). Its AUC was {auc_text}: "
        + "; ".join(parts)
        + f". Gate reason: {m.reason}.{then}"
    )
    if ties:
        text += (
            f" Said plainly: the model adds nothing measurable over {' or '.join(ties)} on "
            f"this hold-out."
        )
    return text
