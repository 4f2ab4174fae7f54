-- depends_on: {{ ref('scoring_features') }}
{{ config(unique_key='listen_date', partition_by=engine_partition_by('listen_date')) }}

{#-
    One row per listen with its label and every feature as known before its listen_date: the
    user's, the track's and the user's history on the track's genres from earlier days only,
    and the track's static attributes. The same feature tables serve nightly scoring.

    The depends_on line above is not a data dependency: it makes the two largest joins of a
    build (this model and scoring_features, the same request_features macro) run one after the
    other. Side by side they share DuckDB's memory_limit, and at ten times the v2 preset the
    pair ran out of it; training_examples alone builds within it (BENCHMARKS.md, "Scale").
-#}

with

listens as (

    select * from {{ ref('fct_listens') }}
    {% if is_incremental() %}
        where listen_date >= {{ first_changed_listen_date(ref('fct_listens')) }}
    {% endif %}

),

requests as (

    select
        listen_id as request_id,
        user_id,
        track_id,
        listen_date as feature_date,
        is_skipped
    from listens

),

features as (

    {{ request_features(
        'requests',
        user_features=ref('user_features_daily'),
        track_features=ref('track_features_daily'),
        global_features=ref('global_features_daily'),
        user_genre_features=ref('user_genre_features_daily'),
        users=ref('dim_users'),
        tracks=ref('dim_tracks'),
        artist_genres=ref('stg_pozytywka__artist_genres'),
        favourite_genres=ref('stg_pozytywka__user_favourite_genres'),
    ) }}

),

final as (

    select
        features.request_id as listen_id,
        features.feature_date as listen_date,
        features.user_id,
        features.track_id,
        features.is_skipped,
        {%- for column in feature_columns() %}
            features.{{ column }},
        {%- endfor %}
        {{ run_loaded_at() }} as loaded_at
    from features

)

select * from final
