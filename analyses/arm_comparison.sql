-- The A/B arms night by night (accuracy, cache hit rate, wasted storage cost) and over the
-- whole period with the 95% interval of each arm's difference from the reference arm.
select
    'night' as scope,
    cast(decision_date as varchar) as period,
    arm,
    requests,
    accuracy,
    cache_hit_rate,
    cached_but_skipped_cost + cached_never_requested_cost as wasted_cost,
    cast(null as double) as difference_low,
    cast(null as double) as difference_high
from {{ ref('ab_daily_summary') }}
union all
select
    'period: ' || metric as scope,
    cast(first_night as varchar) || '..' || cast(last_night as varchar) as period,
    arm || ' vs ' || reference_arm as arm,
    requests,
    case when metric = 'accuracy' then difference end as accuracy,
    case when metric = 'cache_hit_rate' then difference end as cache_hit_rate,
    null as wasted_cost,
    difference_low,
    difference_high
from {{ ref('ab_arm_comparison') }}
order by scope, period, arm
