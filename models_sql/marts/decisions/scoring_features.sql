{#- One row per candidate pair of each night: the pair's features as known before the night,
    by the very definition training uses (macro request_features). The nights are read before
    the model runs, so that the track features are read at those dates only. -#}
{%- set nights = distinct_dates(ref('cache_candidates'), 'decision_date') %}

with

candidates as (

    select * from {{ ref('cache_candidates') }}

),

requests as (

    select
        cast(decision_date as string) || '|' || cast(user_id as string) || '|' || track_id as request_id,
        user_id,
        track_id,
        decision_date as feature_date
    from candidates

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
        feature_dates=nights,
    ) }}

),

final as (

    select
        features.user_id,
        features.track_id,
        {%- for column in feature_columns() %}
            features.{{ column }},
        {%- endfor %}
        features.feature_date as decision_date
    from features

)

select * from final
