with

parsed_tracks as (

    select * from {{ ref('base_pozytywka__tracks_parsed') }}

),

artists as (

    select * from {{ ref('base_pozytywka__artists_parsed') }}
    where quarantine_reason is null

),

good_tracks as (

    select
        source_file,
        line_number,
        track_id,
        artist_id,
        track_name,
        popularity,
        duration_ms,
        is_explicit,
        released_on,
        release_date_precision,
        release_year,
        danceability,
        energy,
        loudness,
        speechiness,
        acousticness,
        instrumentalness,
        liveness,
        valence,
        tempo,
        musical_key,
        musical_mode,
        time_signature
    from parsed_tracks
    where quarantine_reason is null

),

final as (

    select
        good_tracks.*,
        good_tracks.artist_id is null or artists.artist_id is null as is_orphan_artist
    from good_tracks
    left join artists
        on good_tracks.artist_id = artists.artist_id

)

select * from final
