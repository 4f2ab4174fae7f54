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

events as {{ not_materialized_cte() }} (

    select
        *,
        case when event_type = 'play' then 0 else 1 end as kind_order
    from {{ ref('stg_pozytywka__sessions') }}
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

ordered as (

    {#- One sort serves the match and the listen ids: within a session and track, by time, a
        play before a skip or like at the same instant, then by file position (unique). -#}
    select
        *,
        count(case when event_type = 'play' then 1 end) over by_time as play_seq,
        row_number() over by_time
        - rank() over (partition by session_id, track_id order by event_at, kind_order)
        + 1 as same_instant_rank
    from session_events
    window by_time as (
        partition by session_id, track_id
        order by event_at, kind_order, source_file, line_number
    )

),

plays as (

    {#- A listen's id: its play's session, user, track, time and rank among identical plays. -#}
    select
        session_id,
        track_id,
        play_seq,
        md5(
            cast(session_id as string) || '|' || cast(user_id as string) || '|' || track_id
            || '|' || cast(event_at as string) || '|' || cast(same_instant_rank as string)
        ) as listen_id
    from ordered
    where event_type = 'play'

),

matched as (

    {#- Each event belongs to the latest play at or before it: the play_seq-th play. -#}
    select
        ordered.*,
        plays.listen_id
    from ordered
    left join plays
        on
            ordered.session_id = plays.session_id
            and ordered.track_id = plays.track_id
            and ordered.play_seq = plays.play_seq

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
