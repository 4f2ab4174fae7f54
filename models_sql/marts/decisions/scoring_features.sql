{#- One row per candidate pair of each night: the pair's features as known before the night,
    by the very definition training uses (macro request_features). -#}

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

    {{ request_features('requests') }}

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
