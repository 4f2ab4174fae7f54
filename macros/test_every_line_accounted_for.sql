{#- For every file `landing` landed (a landing relation: base_pozytywka__landed_lines or
    base_serving__landed_lines): non-blank lines read = rows staged + rows quarantined, in the
    accounting `model` (one row per source_file). Also fails when a landed file has no
    accounting row at all. -#}
{% test every_line_accounted_for(model, landing) %}

with

landed_files as (

    select distinct source_file from {{ landing }}

),

accounting as (

    select * from {{ model }}

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

{% endtest %}
