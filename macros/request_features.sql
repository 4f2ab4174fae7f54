{#-
    The features of (user, track, feature date) requests, as known before the feature date.
    One definition serves training (requests = listens, training_examples) and nightly scoring
    (requests = candidate pairs, scoring_features), so both see exactly the same features.
    `requests` is a relation with a unique request_id, user_id, track_id and feature_date; its
    columns pass through to the result, so a caller needs no join back to its requests. The
    other eight arguments are the relations the features come from, which the calling model
    names with ref(), so the lineage is in the model. Entities
    with no history before the date (cold start) get zero counts and the global prior rates.
    Portable SQL, except for the request numbering below, which is dispatched per adapter.
-#}

{#- An integer per request, to group and join the per-genre rows by instead of request_id (a
    string of up to 40 characters, slower to hash and compare). Any engine: ordered by
    request_id. DuckDB: in arrival order, which is safe because the CTE that numbers the
    requests is materialized (computed once for its two consumers). -#}
{% macro request_key() -%}
    {{ return(adapter.dispatch('request_key')()) }}
{%- endmacro %}

{% macro default__request_key() -%}
    row_number() over (order by request_id)
{%- endmacro %}

{% macro duckdb__request_key() -%}
    row_number() over ()
{%- endmacro %}

{% macro spark__request_key() -%}
    {#- Spark: the request_id itself; a numbering would need one global sort (one task). -#}
    request_id
{%- endmacro %}

{% macro feature_columns() -%}
    {%- set cols = [
        'user_listens_before', 'user_skips_before', 'track_listens_before', 'track_skips_before',
        'user_likes_before', 'user_skip_rate', 'user_skip_logit', 'user_like_rate',
    ] -%}
    {%- for w in var('feature_windows_days') -%}
        {%- do cols.extend(['user_listens_' ~ w ~ 'd', 'user_skip_rate_' ~ w ~ 'd']) -%}
    {%- endfor -%}
    {%- do cols.extend(['user_days_since_last_listen', 'user_is_premium', 'track_likes_before',
        'track_skip_rate', 'track_like_rate']) -%}
    {%- for w in var('feature_windows_days') -%}
        {%- do cols.extend(['track_listens_' ~ w ~ 'd', 'track_skip_rate_' ~ w ~ 'd']) -%}
    {%- endfor -%}
    {%- do cols.extend([
        'track_days_since_last_listen', 'track_popularity', 'track_duration_ms',
        'track_release_year', 'track_is_explicit', 'track_danceability', 'track_energy',
        'track_loudness', 'track_speechiness', 'track_acousticness', 'track_instrumentalness',
        'track_liveness', 'track_valence', 'track_tempo', 'track_storage_class',
        'track_daily_cost', 'is_favourite_genre', 'favourite_genre_matches',
        'user_genre_listens_before', 'user_genre_skips_before', 'user_genre_skip_rate',
        'global_skip_rate',
    ]) -%}
    {{ return(cols) }}
{%- endmacro %}

{% macro request_features(
    requests, user_features, track_features, global_features, user_genre_features, users, tracks,
    artist_genres, favourite_genres, feature_dates=none
) -%}
    {#- `feature_dates` (ISO strings), when the caller knows them, are all the feature dates of
        `requests`: the track features are read at those dates only, as literals. With the
        per-track rows of every date in view, DuckDB hashed the requests (5.3 M candidate pairs
        a night at 10x the v2 preset, with every column) to probe all of track_features_daily;
        with the dates as literals it estimates the few track rows and hashes those instead
        (scoring_features' select on that warehouse: 10.0 s and 4.5 GB against 7.8 s and 3.3 GB).
        The user features are left unfiltered: the same filter on them gave a plan that ran out
        of memory (5 GB) there. -#}
    {%- set windows = var('feature_windows_days') -%}
    {%- set cold_days = var('days_since_last_listen_cold_start') -%}
    with

    numbered_requests as {{ materialized_cte() }} (

        select
            *,
            {{ request_key() }} as request_key
        from {{ requests }}

    ),

    user_features as (

        select * from {{ user_features }}

    ),

    track_features as (

        select * from {{ track_features }}
        {%- if feature_dates %}
        where feature_date in (
            {%- for d in feature_dates %}cast('{{ d }}' as date){% if not loop.last %}, {% endif %}{% endfor -%}
        )
        {%- endif %}

    ),

    global_features as (

        select * from {{ global_features }}

    ),

    user_genre_features as (

        select * from {{ user_genre_features }}

    ),

    users as (

        select * from {{ users }}

    ),

    tracks as (

        select * from {{ tracks }}

    ),

    artist_genres as (

        select * from {{ artist_genres }}

    ),

    favourite_genres as (

        select * from {{ favourite_genres }}

    ),

    request_genres as (

        select
            requests.request_key,
            cast(sum(case when favourite_genres.genre is not null then 1 else 0 end) as bigint)
                as favourite_genre_matches,
            cast(coalesce(sum(user_genre_features.user_genre_listens_before), 0) as bigint)
                as user_genre_listens_before,
            cast(coalesce(sum(user_genre_features.user_genre_skips_before), 0) as bigint)
                as user_genre_skips_before
        from numbered_requests as requests
        inner join tracks
            on requests.track_id = tracks.track_id
        inner join artist_genres
            on tracks.artist_id = artist_genres.artist_id
        left join favourite_genres
            on
                requests.user_id = favourite_genres.user_id
                and artist_genres.genre = favourite_genres.genre
        left join user_genre_features
            on
                requests.user_id = user_genre_features.user_id
                and artist_genres.genre = user_genre_features.genre
                and requests.feature_date = user_genre_features.feature_date
        group by requests.request_key

    ),

    joined as (

        select
            requests.*,
            global_features.global_skip_rate,
            global_features.global_like_rate,
            coalesce(user_features.user_listens_before, 0) as user_listens_before,
            coalesce(user_features.user_skips_before, 0) as user_skips_before,
            coalesce(track_features.track_listens_before, 0) as track_listens_before,
            coalesce(track_features.track_skips_before, 0) as track_skips_before,
            coalesce(user_features.user_likes_before, 0) as user_likes_before,
            coalesce(user_features.user_skip_rate, global_features.global_skip_rate) as user_skip_rate,
            coalesce(user_features.user_skip_logit, {{ clamped_logit('global_features.global_skip_rate') }})
                as user_skip_logit,
            coalesce(user_features.user_like_rate, global_features.global_like_rate) as user_like_rate,
            {%- for w in windows %}
                coalesce(user_features.user_listens_{{ w }}d, 0) as user_listens_{{ w }}d,
                coalesce(user_features.user_skip_rate_{{ w }}d, global_features.global_skip_rate)
                    as user_skip_rate_{{ w }}d,
            {%- endfor %}
            coalesce(user_features.user_days_since_last_listen, {{ cold_days }}) as user_days_since_last_listen,
            coalesce(users.is_premium, false) as user_is_premium,
            coalesce(track_features.track_likes_before, 0) as track_likes_before,
            coalesce(track_features.track_skip_rate, global_features.global_skip_rate) as track_skip_rate,
            coalesce(track_features.track_like_rate, global_features.global_like_rate) as track_like_rate,
            {%- for w in windows %}
                coalesce(track_features.track_listens_{{ w }}d, 0) as track_listens_{{ w }}d,
                coalesce(track_features.track_skip_rate_{{ w }}d, global_features.global_skip_rate)
                    as track_skip_rate_{{ w }}d,
            {%- endfor %}
            coalesce(track_features.track_days_since_last_listen, {{ cold_days }}) as track_days_since_last_listen,
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
            coalesce(request_genres.favourite_genre_matches, 0) > 0 as is_favourite_genre,
            coalesce(request_genres.favourite_genre_matches, 0) as favourite_genre_matches,
            coalesce(request_genres.user_genre_listens_before, 0) as user_genre_listens_before,
            coalesce(request_genres.user_genre_skips_before, 0) as user_genre_skips_before
        from numbered_requests as requests
        inner join global_features
            on requests.feature_date = global_features.feature_date
        left join user_features
            on
                requests.user_id = user_features.user_id
                and requests.feature_date = user_features.feature_date
        left join track_features
            on
                requests.track_id = track_features.track_id
                and requests.feature_date = track_features.feature_date
        left join users
            on requests.user_id = users.user_id
        left join tracks
            on requests.track_id = tracks.track_id
        left join request_genres
            on requests.request_key = request_genres.request_key

    )

    select
        *,
        {{ smoothed_rate('user_genre_skips_before', 'user_genre_listens_before',
            'user_skip_rate', var('skip_rate_prior_weight')) }} as user_genre_skip_rate
    from joined
{%- endmacro %}
