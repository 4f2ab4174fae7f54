-- For every served-answer log file: non-blank lines read = rows in stg_serving__answers + its
-- rows in served_quarantine. Also fails when a landed file has no accounting row at all.
with

landed_files as (

    select distinct source_file from {{ ref('base_serving__log_lines') }}

),

accounting as (

    select * from {{ ref('served_log_accounting') }}

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
