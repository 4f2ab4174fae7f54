"""The rules that decide an answer, in one place.

Nightly decisions (scoring/decide/decisions.py), the published snapshot and its reader
(scoring/decide/serving.py), the cache service (scoring/decide/service.py), the metrics and the
report all take these rules from here:

- the threshold: cache when p_play >= threshold. Caching a pair that is played through gains G,
  caching one that is skipped costs C (storage and bandwidth wasted); caching pays when
  p_play * G >= (1 - p_play) * C, i.e. p_play >= C / (G + C). With G = C that is 0.5, the
  seed's accuracy objective and the default (config.DEFAULT_THRESHOLD, env SKIPCACHE_THRESHOLD);
- the arms and their shares: users are split by the md5 of user_id into arms, so a user stays
  in one arm every night and in every answer (the seed's per-request coin flip did not);
  `model` answers with the night's decision policy, `naive` with the seed's favourite-genre
  rule, `holdout` caches nothing (its p_play is the policy's, for evaluation);
- the decision policies: a model version (the calibrated SVC) or a baseline the gate fell back
  to (`baseline:user_history`, `baseline:constant`, `baseline:naive`);
- what answers a pair: the pair's own nightly row when it was a candidate (`pair`), else the
  policy computed from the night's per-user, per-track and user x genre parts (`model`), with
  the cold-start values training uses when the user or the track is unknown (`cold_start`);
  the track's default (`track_default`) only where the policy cannot give a finite p_play.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from scoring.config import DEFAULT_THRESHOLD, is_threshold
from scoring.errors import SettingsError

MODEL, NAIVE, HOLDOUT = "model", "naive", "holdout"
ARMS = (MODEL, NAIVE, HOLDOUT)
DEFAULT_ARM_SHARES = {MODEL: 0.5, NAIVE: 0.5}
#: model_version written on the naive arm's rows
NAIVE_RULE = "naive-rule"
BASELINE_USER_HISTORY = "baseline:user_history"
BASELINE_CONSTANT = "baseline:constant"
BASELINE_NAIVE = "baseline:naive"
BASELINES = (BASELINE_USER_HISTORY, BASELINE_CONSTANT, BASELINE_NAIVE)
#: where an answer came from
SOURCES = ("pair", "model", "cold_start", "track_default")


@dataclass(frozen=True)
class DecisionSettings:
    threshold: float = DEFAULT_THRESHOLD
    arm_shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ARM_SHARES))

    def __post_init__(self) -> None:
        unknown = set(self.arm_shares) - set(ARMS)
        if unknown or abs(sum(self.arm_shares.values()) - 1) > 1e-9:
            raise SettingsError(
                f"--arms: shares must be of model/naive/holdout and sum to 1, got {self.arm_shares}"
            )
        if not is_threshold(self.threshold):
            raise SettingsError(f"--threshold must be within [0, 1], got {self.threshold}")


def parse_arm_shares(text: str) -> dict[str, float]:
    """`model=0.45,naive=0.45,holdout=0.1` as a dict (validated by DecisionSettings)."""
    shares = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        try:
            shares[name.strip()] = float(share)
        except ValueError:
            raise SettingsError(f"--arms: {part!r} is not name=share") from None
    return shares


def arm_of(user_id: int, shares: dict[str, float]) -> str:
    """The user's arm: the md5 of the user id, as a number in [0, 1), against the shares."""
    return arm_in(user_id, *arm_edges(shares))


def arm_edges(shares: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The arms in name order and their upper edges in [0, 1] (the running sum of shares)."""
    names = tuple(sorted(shares))
    return names, tuple(accumulate(shares[name] for name in names))


def arm_in(user_id: int, names: tuple[str, ...], edges: tuple[float, ...]) -> str:
    """`arm_of` with the shares' `arm_edges` computed once (the service, many users)."""
    digest = hashlib.md5(str(int(user_id)).encode()).hexdigest()
    bucket = int(digest[:15], 16) / 16**15
    return names[min(bisect_right(edges, bucket), len(names) - 1)]


def should_cache(p_play: float, arm: str | None, threshold: float) -> bool:
    """The decision for a p_play: the threshold, except that the holdout arm caches nothing."""
    return arm != HOLDOUT and p_play >= threshold


def naive_p_play(is_favourite_genre: bool) -> float:
    """The seed's rule: play iff the track's genres meet the user's favourite genres."""
    return 1.0 if is_favourite_genre else 0.0


def clamp(p: float) -> float:
    return min(max(p, 0.0), 1.0)


def is_model(policy: str) -> bool:
    return policy not in BASELINES


# --- the same rules in SQL, for the nightly decisions --------------------------------------


def naive_p_play_sql(alias: str) -> str:
    return f"case when {alias}.is_favourite_genre then 1.0 else 0.0 end"


def baseline_p_play_sql(policy: str, alias: str) -> str:
    """SQL for p_play under a baseline policy, over the feature columns of `alias`."""
    if policy == BASELINE_USER_HISTORY:
        return f"1 - {alias}.user_skip_rate"
    if policy == BASELINE_CONSTANT:
        return f"1 - {alias}.global_skip_rate"
    if policy == BASELINE_NAIVE:
        return naive_p_play_sql(alias)
    raise KeyError(f"{policy} is not a baseline")


def should_cache_sql(p_play: str, arm: str, threshold: float) -> str:
    return f"case when {arm} = '{HOLDOUT}' then false else {p_play} >= {float(threshold)!r} end"


def clamp_sql(p_play: str) -> str:
    return f"least(greatest({p_play}, 0.0), 1.0)"


#: p_play of the track default (kept for the outcome models and as the last resort of the
#: service): the track's smoothed play rate before the night, the global rate for a new track.
TRACK_DEFAULT_P_PLAY_SQL = "1 - coalesce(tf.track_skip_rate, g.global_skip_rate)"
