with

parsed_events as (

    select * from {{ ref('base_pozytywka__sessions_parsed') }}

),

tracks as (

    select * from {{ ref('stg_pozytywka__tracks') }}

),

users as (

    select * from {{ ref('stg_pozytywka__users') }}

),

good_events as (

    select * from parsed_events
    where quarantine_reason is null

),

final as (

    select
        good_events.source_file || ':' || cast(good_events.line_number as string) as event_id,
        good_events.session_id,
        good_events.event_at,
        good_events.user_id,
        good_events.track_id,
        good_events.event_type,
        good_events.event_type_raw,
        users.user_id is null as is_orphan_user,
        good_events.track_id is not null and tracks.track_id is null as is_orphan_track,
        good_events.source_file,
        good_events.line_number,
        good_events.loaded_at
    from good_events
    left join users
        on good_events.user_id = users.user_id
    left join tracks
        on good_events.track_id = tracks.track_id

)

select * from final
