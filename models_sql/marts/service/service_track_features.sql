{#- One row per night and catalogue track: the track's own features as of the night, computed
    by the very macro that builds training_examples (request_features), on requests with no
    user. The cache service adds the user's and the pair's parts. -#}

with

listens as (

    select * from {{ ref('fct_listens') }}

),

tracks as (

    select * from {{ ref('dim_tracks') }}

),

nights as (

    {{ decision_nights('listens') }}

),

requests as (

    select
        cast(nights.decision_date as {{ dbt.type_string() }}) || '|' || tracks.track_id as request_id,
        cast(null as bigint) as user_id,
        tracks.track_id,
        nights.decision_date as feature_date
    from nights
    cross join tracks

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
        features.track_id,
        {%- for column in feature_columns() if column.startswith('track_') %}
            features.{{ column }},
        {%- endfor %}
        features.feature_date as decision_date
    from features

)

select * from final
