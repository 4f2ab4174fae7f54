{#- One row per served-answer log line that did not make it into stg_serving__answers, with the reason. -#}

with

parsed_answers as (

    select * from {{ ref('base_serving__answers_parsed') }}

),

final as (

    select
        source_file,
        line_number,
        raw_line,
        quarantine_reason as reason
    from parsed_answers
    where quarantine_reason is not null

)

select * from final
