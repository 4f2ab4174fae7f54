{#- Candidates of the third priority: for each active user, the night's
    var('candidate_global_top_tracks') most played recent tracks (ties by track_id). -#}

with

track_plays as (

    select * from {{ ref('int_candidates__track_plays') }}

),

active_users as (

    select * from {{ ref('int_candidates__active_users') }}

),

global_ranked_tracks as (

    select
        decision_date,
        track_id,
        row_number() over (
            partition by decision_date order by recent_plays desc, track_id asc
        ) as global_rank
    from track_plays

),

final as (

    select
        active_users.decision_date,
        active_users.user_id,
        global_ranked_tracks.track_id,
        3 as source_priority,
        'global_top' as candidate_source
    from active_users
    inner join global_ranked_tracks
        on active_users.decision_date = global_ranked_tracks.decision_date
    where global_ranked_tracks.global_rank <= {{ var('candidate_global_top_tracks') }}

)

select * from final
