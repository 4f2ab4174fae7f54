{#-
    Per-engine choices, kept in one place. DuckDB (dev) keeps delete+insert by key; Spark has
    no delete+insert on Parquet tables, so a model keyed by a date (or a raw file) overwrites
    the partitions it recomputes (insert_overwrite with dynamic partition overwrite), and a
    model keyed by something else (a session) is rebuilt as a table.
-#}

{% macro engine_partition_by(column) -%}
    {#- The partition column of a date- or file-keyed incremental model on Spark; none on DuckDB
        (where delete+insert by unique_key needs no partitions). -#}
    {{ return(column if target.type == 'spark' else none) }}
{%- endmacro %}

{% macro engine_incremental_by_session() -%}
    {#- Session-keyed incremental models: incremental on DuckDB, a table on Spark (no partition
        per session; see docs/scale-out.md for session buckets). -#}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}
