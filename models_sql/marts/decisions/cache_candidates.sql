{#-
    One row per (decision_date, user, track) pair to decide for: for each user active in the
    var('candidate_active_days') days before D, the tracks they listened to recently, the most
    played recent tracks of their favourite genres and the global top tracks (the three
    int_candidates__* steps), each pair under its best source, capped per user by source, then
    recent plays. Only listens before D are used. Pairs outside get the per-track default of
    the night.
-#}

with

candidates as (

    select * from {{ ref('int_candidates__recent') }}
    union all
    select * from {{ ref('int_candidates__favourite_genre') }}
    union all
    select * from {{ ref('int_candidates__global_top') }}

),

track_plays as (

    select * from {{ ref('int_candidates__track_plays') }}

),

best_source as (

    select
        decision_date,
        user_id,
        track_id,
        min(source_priority) as source_priority,
        min_by(candidate_source, source_priority) as candidate_source
    from candidates
    group by decision_date, user_id, track_id

),

ranked as (

    select
        best_source.decision_date,
        best_source.user_id,
        best_source.track_id,
        best_source.candidate_source,
        cast(row_number() over (
            partition by best_source.decision_date, best_source.user_id
            order by best_source.source_priority asc, coalesce(track_plays.recent_plays, 0) desc, best_source.track_id asc
        ) as bigint) as user_rank
    from best_source
    left join track_plays
        on
            best_source.decision_date = track_plays.decision_date
            and best_source.track_id = track_plays.track_id

),

final as (

    select
        decision_date,
        user_id,
        track_id,
        candidate_source,
        user_rank
    from ranked
    where user_rank <= {{ var('candidate_max_per_user') }}

)

select * from final
