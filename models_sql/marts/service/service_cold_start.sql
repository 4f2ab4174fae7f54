{#- One row per night: the features of a request whose user and track are both unknown, by the
    very macro that builds training_examples (request_features): the cold-start values training
    uses (zero counts, prior rates), the night's global skip rate, and the smoothing weight the
    cache service needs to compute user_genre_skip_rate for any pair. -#}

with

listens as (

    select * from {{ ref('fct_listens') }}

),

nights as (

    {{ decision_nights('listens') }}

),

requests as (

    select
        cast(nights.decision_date as {{ dbt.type_string() }}) as request_id,
        cast(null as bigint) as user_id,
        cast(null as {{ dbt.type_string() }}) as track_id,
        nights.decision_date as feature_date
    from nights

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
        features.feature_date as decision_date,
        {%- for column in feature_columns() %}
            features.{{ column }},
        {%- endfor %}
        cast({{ var('skip_rate_prior_weight') }} as double) as skip_rate_prior_weight
    from features

)

select * from final
