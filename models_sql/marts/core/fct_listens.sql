{{ config(unique_key='session_id') }}

{#- One row per listen (one play event), skipped when a skip belongs to it. -#}

with

track_events as (

    select * from {{ ref('int_track_events_matched') }}
    {% if is_incremental() %}
        where loaded_at > {{ last_loaded_at() }}
    {% endif %}

),

plays as (

    select * from track_events
    where event_type = 'play'

),

outcomes as (

    select
        listen_id,
        max(case when event_type = 'skip' then 1 else 0 end) = 1 as is_skipped,
        max(case when event_type = 'like' then 1 else 0 end) = 1 as is_liked,
        sum(case when event_type = 'skip' then 1 else 0 end) as skip_events
    from track_events
    where event_type in ('skip', 'like') and listen_id is not null
    group by listen_id

),

final as (

    select
        plays.listen_id,
        plays.session_id,
        plays.user_id,
        plays.track_id,
        plays.event_at as started_at,
        cast(plays.event_at as date) as listen_date,
        coalesce(outcomes.is_skipped, false) as is_skipped,
        coalesce(outcomes.is_liked, false) as is_liked,
        cast(coalesce(outcomes.skip_events, 0) as int) as skip_events,
        plays.is_orphan_user,
        plays.is_orphan_track,
        plays.loaded_at
    from plays
    left join outcomes
        on plays.listen_id = outcomes.listen_id

)

select * from final
