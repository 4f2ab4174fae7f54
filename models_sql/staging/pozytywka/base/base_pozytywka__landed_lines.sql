{#- The raw lines landed on this target, as every model reads them: the Python landing on
    DuckDB (base_pozytywka__raw_lines, scoring.rawfiles), Spark SQL's on Spark
    (base_pozytywka__raw_lines_spark); both write the table staging.base_pozytywka__raw_lines.
    Ephemeral: it only names the one landing of the target, so the lineage shows it. -#}

select * from {{ ref('base_pozytywka__raw_lines_spark') if target.type == 'spark' else ref('base_pozytywka__raw_lines') }}
