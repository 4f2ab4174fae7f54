{#- One row per night and known user (in dim_users or with listens): the user's own features as
    of the night, computed by the very macro that builds training_examples (request_features),
    on requests with no track. The cache service adds the track's and the pair's parts. -#}

with

listens as (

    select * from {{ ref('fct_listens') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

nights as (

    {{ decision_nights('listens') }}

),

known_users as (

    select users.user_id from users
    union
    select listens.user_id from listens

),

requests as (

    select
        cast(nights.decision_date as {{ dbt.type_string() }}) || '|'
        || cast(known_users.user_id as {{ dbt.type_string() }}) as request_id,
        known_users.user_id,
        cast(null as {{ dbt.type_string() }}) as track_id,
        nights.decision_date as feature_date
    from nights
    cross join known_users

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
        features.user_id,
        {%- for column in feature_columns() if column.startswith('user_') and not column.startswith('user_genre_') %}
            features.{{ column }},
        {%- endfor %}
        features.feature_date as decision_date
    from features

)

select * from final
