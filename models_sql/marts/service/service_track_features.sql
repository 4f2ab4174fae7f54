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

    {{ request_features('requests') }}

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
