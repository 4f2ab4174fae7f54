{#- One row per (track, genre): the genres of a track's artist, over which a pair's
    favourite-genre and user x genre features are summed (as in request_features). -#}

with

tracks as (

    select * from {{ ref('dim_tracks') }}

),

artist_genres as (

    select * from {{ ref('stg_pozytywka__artist_genres') }}

),

final as (

    select
        tracks.track_id,
        artist_genres.genre
    from tracks
    inner join artist_genres
        on tracks.artist_id = artist_genres.artist_id

)

select * from final
