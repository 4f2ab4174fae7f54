{{ config(unique_key='decision_date', partition_by=engine_partition_by('decision_date')) }}

{#- One row per listen on a night that has decisions (a request to the cache): the user's arm
    that night and the decision that answered it, the pair's own or the track's default. -#}

with

arms as (

    select * from {{ source('decisions', 'user_arms') }}

),

nights as (

    {{ decided_nights(source('decisions', 'user_arms'), ref('fct_listens')) }}

),

listens as (

    select * from {{ ref('fct_listens') }}

),

pair_decisions as (

    select * from {{ source('decisions', 'cache_decisions') }}

),

track_defaults as (

    select * from {{ source('decisions', 'track_default_decisions') }}

),

final as (

    select
        listens.listen_id,
        nights.decision_date,
        listens.user_id,
        listens.track_id,
        arms.arm,
        not listens.is_skipped as is_played_through,
        case
            when pair_decisions.track_id is not null then 'pair'
            when track_defaults.track_id is not null then 'track_default'
            else 'unknown_track'
        end as answered_by,
        coalesce(
            pair_decisions.should_cache,
            track_defaults.should_cache and coalesce(arms.arm, '') <> 'holdout',
            false
        ) as is_cached,
        coalesce(pair_decisions.p_play, track_defaults.p_play) as p_play,
        coalesce(pair_decisions.model_version, track_defaults.model_version) as model_version,
        nights.night_decided_at,
        {{ run_loaded_at() }} as loaded_at
    from nights
    inner join listens
        on nights.decision_date = listens.listen_date
    left join arms
        on
            nights.decision_date = arms.decision_date
            and listens.user_id = arms.user_id
    left join pair_decisions
        on
            nights.decision_date = pair_decisions.decision_date
            and listens.user_id = pair_decisions.user_id
            and listens.track_id = pair_decisions.track_id
    left join track_defaults
        on
            nights.decision_date = track_defaults.decision_date
            and listens.track_id = track_defaults.track_id

)

select * from final
