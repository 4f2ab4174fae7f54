with

parsed_answers as (

    select * from {{ ref('base_serving__answers_parsed') }}

),

final as (

    select
        source_file || ':' || cast(line_number as string) as served_answer_id,
        source_file,
        line_number,
        request_id,
        served_at,
        endpoint,
        user_id,
        track_id,
        arm,
        policy,  -- noqa: RF04
        model_version,
        decision_date,
        p_play,
        should_cache,
        answer_source
    from parsed_answers
    where quarantine_reason is null

)

select * from final
