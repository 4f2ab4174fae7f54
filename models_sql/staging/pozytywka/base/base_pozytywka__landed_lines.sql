{#- The raw lines landed on this target, as every model reads them: the Python landing on
    DuckDB (base_pozytywka__raw_lines, scoring.rawfiles), Spark SQL's on Spark
    (base_pozytywka__raw_lines_spark); both write the table staging.base_pozytywka__raw_lines.
    A view: it only names the one landing of the target, so the lineage shows it, and a
    parser can query it on its own for the files it has not parsed (macro files_to_parse). -#}

select * from {{ ref('base_pozytywka__raw_lines_spark') if target.type == 'spark' else ref('base_pozytywka__raw_lines') }}
