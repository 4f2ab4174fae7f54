{#-
    One row per (decision_date, user, track) pair to decide for: for each user active in the
    var('candidate_active_days') days before D, the tracks they listened to recently, the most
    played recent tracks of their favourite genres and the global top tracks, capped per user.
    Only listens before D are used. Pairs outside get the per-track default of the night.
-#}

with

listens as (

    select * from {{ ref('fct_listens') }}

),

tracks as (

    select * from {{ ref('dim_tracks') }}

),

artist_genres as (

    select * from {{ ref('stg_pozytywka__artist_genres') }}

),

favourite_genres as (

    select * from {{ ref('stg_pozytywka__user_favourite_genres') }}

),

nights as (

    {{ decision_nights('listens') }}

),

recent_listens as (

    select
        nights.decision_date,
        listens.user_id,
        listens.track_id
    from nights
    inner join listens
        on
            nights.decision_date > listens.listen_date
            and {{ add_days(-var('candidate_recent_days'), 'nights.decision_date') }} <= listens.listen_date

),

active_users as (

    select distinct
        nights.decision_date,
        listens.user_id
    from nights
    inner join listens
        on
            nights.decision_date > listens.listen_date
            and {{ add_days(-var('candidate_active_days'), 'nights.decision_date') }} <= listens.listen_date

),

track_plays as (

    select
        decision_date,
        track_id,
        count(*) as recent_plays
    from recent_listens
    group by decision_date, track_id

),

user_recent_tracks as (

    select
        recent_listens.decision_date,
        recent_listens.user_id,
        recent_listens.track_id,
        1 as source_priority,
        'recent' as candidate_source
    from recent_listens
    inner join active_users
        on
            recent_listens.decision_date = active_users.decision_date
            and recent_listens.user_id = active_users.user_id

),

genre_top_tracks as (

    select
        decision_date,
        genre,
        track_id
    from (
        select
            track_plays.decision_date,
            artist_genres.genre,
            track_plays.track_id,
            row_number() over (
                partition by track_plays.decision_date, artist_genres.genre
                order by track_plays.recent_plays desc, track_plays.track_id asc
            ) as genre_rank
        from track_plays
        inner join tracks
            on track_plays.track_id = tracks.track_id
        inner join artist_genres
            on tracks.artist_id = artist_genres.artist_id
    ) as ranked
    where genre_rank <= {{ var('candidate_genre_top_tracks') }}

),

user_genre_tracks as (

    select
        active_users.decision_date,
        active_users.user_id,
        genre_top_tracks.track_id,
        2 as source_priority,
        'favourite_genre' as candidate_source
    from active_users
    inner join favourite_genres
        on active_users.user_id = favourite_genres.user_id
    inner join genre_top_tracks
        on
            active_users.decision_date = genre_top_tracks.decision_date
            and favourite_genres.genre = genre_top_tracks.genre

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

global_top_tracks as (

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

),

unioned as (

    select * from user_recent_tracks
    union all
    select * from user_genre_tracks
    union all
    select * from global_top_tracks

),

best_source as (

    select
        unioned.decision_date,
        unioned.user_id,
        unioned.track_id,
        min(unioned.source_priority) as source_priority
    from unioned
    group by unioned.decision_date, unioned.user_id, unioned.track_id

),

ranked as (

    select
        best_source.decision_date,
        best_source.user_id,
        best_source.track_id,
        best_source.source_priority,
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
        case source_priority
            when 1 then 'recent'
            when 2 then 'favourite_genre'
            else 'global_top'
        end as candidate_source,
        user_rank
    from ranked
    where user_rank <= {{ var('candidate_max_per_user') }}

)

select * from final
