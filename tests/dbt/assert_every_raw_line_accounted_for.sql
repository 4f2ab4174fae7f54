-- For every raw file: non-blank lines read = rows in its staging model + its rows in raw_quarantine.
-- Also fails when a landed file has no accounting row at all.
with

landed_files as (

    select distinct source_file from {{ landed_raw_lines() }}

),

accounting as (

    select * from {{ ref('raw_file_accounting') }}

)

select
    landed_files.source_file,
    accounting.lines_read,
    accounting.rows_staged,
    accounting.rows_quarantined
from landed_files
left join accounting
    on landed_files.source_file = accounting.source_file
where
    accounting.source_file is null
    or accounting.lines_read <> accounting.rows_staged + accounting.rows_quarantined
