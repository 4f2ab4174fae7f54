{#- One row per served-answer log file: non-blank lines read, rows staged, rows quarantined. -#}

with

log_lines as (

    select * from {{ ref('base_serving__landed_lines') }}

),

answers as (

    select * from {{ ref('stg_serving__answers') }}

),

quarantine as (

    select * from {{ ref('served_quarantine') }}

),

lines_read as (

    select
        source_file,
        {{ count_where("not is_blank") }} as lines_read
    from log_lines
    group by source_file

),

staged as (

    select
        source_file,
        count(*) as rows_staged
    from answers
    group by source_file

),

quarantined as (

    select
        source_file,
        count(*) as rows_quarantined
    from quarantine
    group by source_file

),

final as (

    select
        lines_read.source_file,
        lines_read.lines_read,
        coalesce(staged.rows_staged, 0) as rows_staged,
        coalesce(quarantined.rows_quarantined, 0) as rows_quarantined
    from lines_read
    left join staged
        on lines_read.source_file = staged.source_file
    left join quarantined
        on lines_read.source_file = quarantined.source_file

)

select * from final
