{#-
    Per-engine choices, kept in one place. DuckDB (dev) keeps delete+insert by key; Spark has
    no delete+insert on Parquet tables, so a model keyed by a date (or a raw file) overwrites
    the partitions it recomputes (insert_overwrite with dynamic partition overwrite), and a
    model keyed by something else (a session) is rebuilt as a table: that choice is made in
    dbt_project.yml (fct_listens, int_track_events_matched), where jinja sees the target.
-#}

{% macro engine_partition_by(column) -%}
    {#- The partition column of a date- or file-keyed incremental model on Spark; none on DuckDB
        (where delete+insert by unique_key needs no partitions). -#}
    {{ return(column if target.type == 'spark' else none) }}
{%- endmacro %}
