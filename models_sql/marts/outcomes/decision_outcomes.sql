{{ config(unique_key='decision_date', partition_by=engine_partition_by('decision_date')) }}

{#- One row per decision: each pair decision of cache_decisions, and each track default of
    track_default_decisions (user_id and arm null), with what happened on its night: how many
    requests it answered, how many were played through or skipped, and the track's storage
    cost. A night's outcome is final once that day's listens are loaded. -#}

with

nights as (

    {{ decided_nights(source('decisions', 'user_arms'), ref('fct_listens')) }}

),

pair_decisions as (

    select * from {{ source('decisions', 'cache_decisions') }}

),

track_defaults as (

    select * from {{ source('decisions', 'track_default_decisions') }}

),

pair_requests as (

    select * from {{ ref('int_outcomes__pair_requests') }}

),

default_requests as (

    select * from {{ ref('int_outcomes__default_requests') }}

),

tracks as (

    select * from {{ ref('dim_tracks') }}

),

decisions as (

    select
        'pair' as decision_kind,
        pair_decisions.decision_date,
        pair_decisions.user_id,
        pair_decisions.track_id,
        pair_decisions.arm,
        pair_decisions.model_version,
        pair_decisions.p_play,
        pair_decisions.should_cache,
        coalesce(pair_requests.requests, 0) as requests,
        coalesce(pair_requests.played_through_requests, 0) as played_through_requests,
        case when pair_decisions.should_cache then coalesce(pair_requests.requests, 0) else 0 end
            as cached_requests,
        nights.night_decided_at
    from nights
    inner join pair_decisions
        on nights.decision_date = pair_decisions.decision_date
    left join pair_requests
        on
            pair_decisions.decision_date = pair_requests.decision_date
            and pair_decisions.user_id = pair_requests.user_id
            and pair_decisions.track_id = pair_requests.track_id

    union all

    select
        'track_default' as decision_kind,
        track_defaults.decision_date,
        cast(null as {{ dbt.type_bigint() }}) as user_id,
        track_defaults.track_id,
        cast(null as {{ dbt.type_string() }}) as arm,
        track_defaults.model_version,
        track_defaults.p_play,
        track_defaults.should_cache,
        coalesce(default_requests.requests, 0) as requests,
        coalesce(default_requests.played_through_requests, 0) as played_through_requests,
        coalesce(default_requests.cached_requests, 0) as cached_requests,
        nights.night_decided_at
    from nights
    inner join track_defaults
        on nights.decision_date = track_defaults.decision_date
    left join default_requests
        on
            track_defaults.decision_date = default_requests.decision_date
            and track_defaults.track_id = default_requests.track_id

),

final as (

    select
        decisions.decision_kind,
        decisions.decision_date,
        decisions.user_id,
        decisions.track_id,
        decisions.arm,
        decisions.model_version,
        decisions.p_play,
        decisions.should_cache,
        decisions.requests > 0 as was_requested,
        decisions.requests,
        decisions.played_through_requests,
        decisions.requests - decisions.played_through_requests as skipped_requests,
        decisions.cached_requests,
        case
            when decisions.requests = 0 then 'not_requested'
            when decisions.played_through_requests = decisions.requests then 'played_through'
            when decisions.played_through_requests = 0 then 'skipped'
            else 'played_and_skipped'
        end as outcome,
        tracks.daily_cost as track_daily_cost,
        decisions.night_decided_at,
        {{ run_loaded_at() }} as loaded_at
    from decisions
    left join tracks
        on decisions.track_id = tracks.track_id

)

select * from final
