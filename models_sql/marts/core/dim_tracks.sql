{#- One row per track: its attributes, its artist's genres, its storage class and daily cost. -#}

with

tracks as (

    select * from {{ ref('stg_pozytywka__tracks') }}

),

artists as (

    select * from {{ ref('stg_pozytywka__artists') }}

),

storage as (

    select * from {{ ref('stg_pozytywka__track_storage') }}

),

artist_genre_counts as (

    select
        artist_id,
        count(*) as genre_count
    from {{ ref('stg_pozytywka__artist_genres') }}
    group by artist_id

),

final as (

    select
        tracks.track_id,
        tracks.track_name,
        tracks.artist_id,
        artists.artist_name,
        artists.genres,
        coalesce(artist_genre_counts.genre_count, 0) as genre_count,
        tracks.popularity,
        tracks.duration_ms,
        tracks.is_explicit,
        tracks.released_on,
        tracks.release_year,
        tracks.danceability,
        tracks.energy,
        tracks.loudness,
        tracks.speechiness,
        tracks.acousticness,
        tracks.instrumentalness,
        tracks.liveness,
        tracks.valence,
        tracks.tempo,
        tracks.musical_key,
        storage.storage_class,
        storage.daily_cost,
        tracks.is_orphan_artist
    from tracks
    left join artists
        on tracks.artist_id = artists.artist_id
    left join storage
        on tracks.track_id = storage.track_id
    left join artist_genre_counts
        on tracks.artist_id = artist_genre_counts.artist_id

)

select * from final
