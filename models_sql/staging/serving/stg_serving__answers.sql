with

parsed_answers as (

    select * from {{ ref('base_serving__answers_parsed') }}

),

final as (

    select
        source_file || ':' || cast(line_number as varchar) as served_answer_id,
        * exclude (quarantine_reason, raw_line, file_signature)
    from parsed_answers
    where quarantine_reason is null

)

select * from final
