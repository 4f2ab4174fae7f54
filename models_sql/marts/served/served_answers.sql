{#- One row per answer the cache service served (one line of its log). -#}

with

answers as (

    select * from {{ ref('stg_serving__answers') }}

),

final as (

    select
        served_answer_id,
        source_file,
        line_number,
        request_id,
        served_at,
        cast(served_at as date) as served_date,
        endpoint,
        user_id,
        track_id,
        arm,
        policy,
        model_version,
        decision_date,
        p_play,
        should_cache,
        answer_source
    from answers

)

select * from final
