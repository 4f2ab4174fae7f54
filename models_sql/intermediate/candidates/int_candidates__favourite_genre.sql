{#- Candidates of the second priority: for each active user, the var('candidate_genre_top_tracks')
    most played recent tracks of each of their favourite genres (ties by track_id). -#}

with

track_plays as (

    select * from {{ ref('int_candidates__track_plays') }}

),

active_users as (

    select * from {{ ref('int_candidates__active_users') }}

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

genre_ranked_tracks as (

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

),

final as (

    select
        active_users.decision_date,
        active_users.user_id,
        genre_ranked_tracks.track_id,
        2 as source_priority,
        'favourite_genre' as candidate_source
    from active_users
    inner join favourite_genres
        on active_users.user_id = favourite_genres.user_id
    inner join genre_ranked_tracks
        on
            active_users.decision_date = genre_ranked_tracks.decision_date
            and favourite_genres.genre = genre_ranked_tracks.genre
    where genre_ranked_tracks.genre_rank <= {{ var('candidate_genre_top_tracks') }}

)

select * from final
