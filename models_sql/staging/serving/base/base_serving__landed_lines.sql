{#- The served-answer log lines landed on this target, as the parser and the accounting read
    them: the Python landing on DuckDB (base_serving__log_lines, scoring.rawfiles), Spark SQL's
    on Spark (base_serving__log_lines_spark); both write staging.base_serving__log_lines.
    A view: it only names the one landing of the target, and the parser can query it on its
    own for the files it has not parsed (macro files_to_parse). -#}

select * from {{ ref('base_serving__log_lines_spark') if target.type == 'spark' else ref('base_serving__log_lines') }}
