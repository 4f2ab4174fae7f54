{{ config(unique_key='decision_date', partition_by=engine_partition_by('decision_date')) }}

{#- One row per (decision_date, arm): what the arm's decisions were worth on that night.
    Requests are the night's listens by the arm's users; covered requests are those with a
    pair-level decision. accuracy is the seed's metric: the share of covered requests where
    should_cache equals played-through. Costs are per cached pair and day (track_storage).
    Incremental per night: a night is recomputed when its outcomes or its requests were
    written since this model last ran (both models rewrite a night whole, a re-decided night
    included, and every decided night has outcome rows: one per track default at least). -#}

{#- a table built before this model was incremental has no loaded_at: it is recomputed whole,
    once, and gets the column (on_schema_change append_new_columns) -#}
{%- set stamped = is_incremental() and execute and stamps_loaded_at(this) -%}
{%- set changed_nights -%}
    (
        select changed.decision_date
        from {{ ref('decision_outcomes') }} as changed
        where changed.loaded_at > {{ last_loaded_at() }}
        union
        select changed.decision_date
        from {{ ref('int_decision_requests') }} as changed
        where changed.loaded_at > {{ last_loaded_at() }}
    )
{%- endset %}

with

requests as (

    select * from {{ ref('int_decision_requests') }}
    where
        arm is not null
    {% if stamped %}
        and decision_date in {{ changed_nights }}
    {% endif %}

),

outcomes as (

    select * from {{ ref('decision_outcomes') }}
    where
        decision_kind = 'pair'
    {% if stamped %}
        and decision_date in {{ changed_nights }}
    {% endif %}

),

arm_nights as (

    select distinct
        decision_date,
        arm
    from {{ source('decisions', 'user_arms') }}
    {% if stamped %}where decision_date in {{ changed_nights }}{% endif %}

),

request_counts as (

    select
        decision_date,
        arm,
        count(*) as requests,
        cast(sum(case when answered_by = 'pair' then 1 else 0 end) as {{ dbt.type_bigint() }}) as covered_requests,
        cast(sum(case when answered_by = 'pair' and is_cached = is_played_through then 1 else 0 end) as {{ dbt.type_bigint() }})
            as correct_covered_requests,
        cast(sum(case when answered_by = 'pair' and is_cached then 1 else 0 end) as {{ dbt.type_bigint() }}) as cached_covered_requests,
        cast(sum(case when answered_by = 'pair' and is_played_through then 1 else 0 end) as {{ dbt.type_bigint() }})
            as played_through_covered_requests,
        cast(sum(case when answered_by = 'pair' and is_cached and is_played_through then 1 else 0 end) as {{ dbt.type_bigint() }})
            as cached_played_through_covered_requests,
        cast(sum(case when is_cached then 1 else 0 end) as {{ dbt.type_bigint() }}) as cache_hits
    from requests
    group by decision_date, arm

),

pair_counts as (

    select
        decision_date,
        arm,
        count(*) as pair_decisions,
        cast(sum(case when should_cache then 1 else 0 end) as {{ dbt.type_bigint() }}) as cached_pairs,
        cast(sum(case when should_cache and outcome = 'skipped' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as cached_but_skipped_pairs,
        cast(sum(case when should_cache and not was_requested then 1 else 0 end) as {{ dbt.type_bigint() }})
            as cached_never_requested_pairs,
        sum(case when should_cache and outcome = 'skipped' then track_daily_cost else 0 end)
            as cached_but_skipped_cost,
        sum(case when should_cache and not was_requested then track_daily_cost else 0 end)
            as cached_never_requested_cost
    from outcomes
    group by decision_date, arm

),

final as (

    select
        arm_nights.decision_date,
        arm_nights.arm,
        coalesce(request_counts.requests, 0) as requests,
        coalesce(request_counts.covered_requests, 0) as covered_requests,
        cast(request_counts.correct_covered_requests as double) / nullif(request_counts.covered_requests, 0)
            as accuracy,
        cast(request_counts.cached_played_through_covered_requests as double)
        / nullif(request_counts.cached_covered_requests, 0) as cache_precision,
        cast(request_counts.cached_played_through_covered_requests as double)
        / nullif(request_counts.played_through_covered_requests, 0) as cache_recall,
        coalesce(request_counts.cache_hits, 0) as cache_hits,
        cast(request_counts.cache_hits as double) / nullif(request_counts.requests, 0) as cache_hit_rate,
        coalesce(pair_counts.pair_decisions, 0) as pair_decisions,
        coalesce(pair_counts.cached_pairs, 0) as cached_pairs,
        coalesce(pair_counts.cached_but_skipped_pairs, 0) as cached_but_skipped_pairs,
        coalesce(pair_counts.cached_never_requested_pairs, 0) as cached_never_requested_pairs,
        coalesce(pair_counts.cached_but_skipped_cost, 0) as cached_but_skipped_cost,
        coalesce(pair_counts.cached_never_requested_cost, 0) as cached_never_requested_cost,
        {{ run_loaded_at() }} as loaded_at
    from arm_nights
    left join request_counts
        on
            arm_nights.decision_date = request_counts.decision_date
            and arm_nights.arm = request_counts.arm
    left join pair_counts
        on
            arm_nights.decision_date = pair_counts.decision_date
            and arm_nights.arm = pair_counts.arm

)

select * from final
