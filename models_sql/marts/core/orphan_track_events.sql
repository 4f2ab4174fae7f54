{#- One row per skip or like that belongs to no play (no play of the same track in the same
    session at or before it): kept in account, never silently dropped. Dirty exports have them. -#}

with

track_events as (

    select * from {{ ref('int_track_events_matched') }}

),

final as (

    select
        event_id,
        session_id,
        user_id,
        track_id,
        event_type,
        event_at
    from track_events
    where event_type in ('skip', 'like') and listen_id is null

)

select * from final
