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

{% macro not_materialized_cte() -%}
    {#- Written after `name as` in a CTE that only imports a large relation (a select from a
        ref, maybe filtered) and is read more than once: DuckDB materializes every CTE read
        more than once, copying the whole relation into memory before any filter of its
        readers applies (int_track_events_matched held the 47 M events at 10x the v2 preset:
        12.7 s and 4.9 GB for a night with no new session, 0.07 s inlined); NOT MATERIALIZED
        inlines it. Spark inlines CTEs on its own and has no such keyword. -#}
    {{ return(adapter.dispatch('not_materialized_cte')()) }}
{%- endmacro %}

{% macro default__not_materialized_cte() -%}{%- endmacro %}

{% macro duckdb__not_materialized_cte() -%}
    not materialized
{%- endmacro %}

{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}
