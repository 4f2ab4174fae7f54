{{ config(unique_key='listen_date') }}

{#-
    One row per listen with its label and every feature as known before its listen_date: the
    user's, the track's and the user's history on the track's genres from earlier days only,
    and the track's static attributes. The same feature tables serve nightly scoring.
-#}

{%- set windows = var('feature_windows_days') -%}

with

listens as (

    select * from {{ ref('fct_listens') }}
    {% if is_incremental() %}
        where listen_date >= {{ first_changed_listen_date() }}
    {% endif %}

),

user_features as (

    select * from {{ ref('user_features_daily') }}

),

track_features as (

    select * from {{ ref('track_features_daily') }}

),

global_features as (

    select * from {{ ref('global_features_daily') }}

),

user_genre_features as (

    select * from {{ ref('user_genre_features_daily') }}

),

users as (

    select * from {{ ref('dim_users') }}

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

listen_genres as (

    select
        listens.listen_id,
        cast(count(*) as bigint) as genre_count,
        cast(sum(case when favourite_genres.genre is not null then 1 else 0 end) as bigint) as favourite_genre_matches,
        cast(coalesce(sum(user_genre_features.user_genre_listens_before), 0) as bigint) as user_genre_listens_before,
        cast(coalesce(sum(user_genre_features.user_genre_skips_before), 0) as bigint) as user_genre_skips_before
    from listens
    inner join tracks
        on listens.track_id = tracks.track_id
    inner join artist_genres
        on tracks.artist_id = artist_genres.artist_id
    left join favourite_genres
        on
            listens.user_id = favourite_genres.user_id
            and artist_genres.genre = favourite_genres.genre
    left join user_genre_features
        on
            listens.user_id = user_genre_features.user_id
            and artist_genres.genre = user_genre_features.genre
            and listens.listen_date = user_genre_features.feature_date
    group by listens.listen_id

),

final as (

    select
        listens.listen_id,
        listens.listen_date,
        listens.user_id,
        listens.track_id,
        listens.is_skipped,
        user_features.user_listens_before,
        user_features.user_skips_before,
        track_features.track_listens_before,
        track_features.track_skips_before,
        user_features.user_likes_before,
        user_features.user_skip_rate,
        user_features.user_skip_logit,
        user_features.user_like_rate,
        {%- for w in windows %}
            user_features.user_listens_{{ w }}d,
            user_features.user_skip_rate_{{ w }}d,
        {%- endfor %}
        user_features.user_days_since_last_listen,
        coalesce(users.is_premium, false) as user_is_premium,
        track_features.track_likes_before,
        track_features.track_skip_rate,
        track_features.track_like_rate,
        {%- for w in windows %}
            track_features.track_listens_{{ w }}d,
            track_features.track_skip_rate_{{ w }}d,
        {%- endfor %}
        track_features.track_days_since_last_listen,
        tracks.popularity as track_popularity,
        tracks.duration_ms as track_duration_ms,
        tracks.release_year as track_release_year,
        coalesce(tracks.is_explicit, false) as track_is_explicit,
        tracks.danceability as track_danceability,
        tracks.energy as track_energy,
        tracks.loudness as track_loudness,
        tracks.speechiness as track_speechiness,
        tracks.acousticness as track_acousticness,
        tracks.instrumentalness as track_instrumentalness,
        tracks.liveness as track_liveness,
        tracks.valence as track_valence,
        tracks.tempo as track_tempo,
        coalesce(tracks.storage_class, 'slow') as track_storage_class,
        tracks.daily_cost as track_daily_cost,
        coalesce(listen_genres.favourite_genre_matches, 0) > 0 as is_favourite_genre,
        coalesce(listen_genres.favourite_genre_matches, 0) as favourite_genre_matches,
        coalesce(listen_genres.user_genre_listens_before, 0) as user_genre_listens_before,
        coalesce(listen_genres.user_genre_skips_before, 0) as user_genre_skips_before,
        {{ smoothed_rate('coalesce(listen_genres.user_genre_skips_before, 0)',
            'coalesce(listen_genres.user_genre_listens_before, 0)',
            'user_features.user_skip_rate', var('skip_rate_prior_weight')) }} as user_genre_skip_rate,
        global_features.global_skip_rate,
        {{ run_loaded_at() }} as loaded_at
    from listens
    inner join user_features
        on
            listens.user_id = user_features.user_id
            and listens.listen_date = user_features.feature_date
    inner join track_features
        on
            listens.track_id = track_features.track_id
            and listens.listen_date = track_features.feature_date
    inner join global_features
        on listens.listen_date = global_features.feature_date
    left join users
        on listens.user_id = users.user_id
    left join tracks
        on listens.track_id = tracks.track_id
    left join listen_genres
        on listens.listen_id = listen_genres.listen_id

)

select * from final
