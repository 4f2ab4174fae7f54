{{ config(unique_key='session_id') }}

{#-
    One row per play, skip or like, each with the listen it belongs to. A listen is one play;
    a skip or like belongs to the latest play of the same track in the same session at or
    before it (an as-of match; at equal timestamps the play comes first). listen_id is null
    for a skip or like that follows no play (see marts.orphan_track_events).

    Incremental per session: a session with any event loaded since the last run is recomputed
    whole, so a late event (a drop holding earlier days) is matched like any other.
-#}

with

events as (

    select * from {{ ref('stg_pozytywka__sessions') }}
    where event_type in ('play', 'skip', 'like')

),

{% if is_incremental() %}
    changed_sessions as (

        select distinct session_id from events
        where loaded_at > {{ last_loaded_at() }}

    ),
{% endif %}

session_events as (

    select events.* from events
    {% if is_incremental() %}
        inner join changed_sessions
            on events.session_id = changed_sessions.session_id
    {% endif %}

),

plays_numbered as (

    select
        *,
        case when event_type = 'play' then 0 else 1 end as kind_order,
        row_number() over (
            partition by session_id, track_id, event_at, event_type
            order by source_file, line_number
        ) as same_instant_rank
    from session_events

),

with_play_ids as (

    select
        *,
        case
            when event_type = 'play'
                then md5(
                    cast(session_id as varchar) || '|' || cast(user_id as varchar) || '|' || track_id
                    || '|' || cast(event_at as varchar) || '|' || cast(same_instant_rank as varchar)
                )
        end as play_listen_id
    from plays_numbered

),

matched as (

    select
        *,
        last_value(play_listen_id ignore nulls) over (
            partition by session_id, track_id
            order by event_at, kind_order, source_file, line_number
            rows between unbounded preceding and current row
        ) as listen_id
    from with_play_ids

),

final as (

    select
        event_id,
        listen_id,
        session_id,
        user_id,
        track_id,
        event_type,
        event_at,
        is_orphan_user,
        is_orphan_track,
        {{ run_loaded_at() }} as loaded_at
    from matched

)

select * from final
