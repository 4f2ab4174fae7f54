{#-
    The tables the nightly job writes (scoring/decide/decisions.py) and the outcome models read: the
    source `decisions`, declared with its columns in models_sql/marts/decisions/
    _decisions__sources.yml (data_type, NOT NULL unless meta.nullable, meta.primary_key), the
    one definition that Python reads too (scoring/model/job_tables.py). They are created empty here
    (on-run-start) when absent, so that the models over them build on a fresh warehouse too;
    Python only fills them.
-#}

{% macro create_decision_tables() -%}
    {{ return(adapter.dispatch('create_decision_tables')()) }}
{%- endmacro %}

{% macro decision_tables() -%}
    {#- The source nodes of `decisions`, by name (empty while parsing). -#}
    {%- set tables = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() if node.source_name == 'decisions' -%}
            {%- do tables.append(node) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tables | sort(attribute='name')) }}
{%- endmacro %}

{% macro spark__create_decision_tables() -%}
    {#- Spark: Parquet tables partitioned by night, so the job overwrites one night's partition
        (insert overwrite ... partition (decision_date)). Parquet tables cannot enforce not null
        or keys: the grain and not-null data tests on the sources check them instead. Spark runs
        one statement at a time, so the statements run here and the hook itself is empty. -#}
    {%- if execute %}
        {%- do run_query('create schema if not exists decisions') %}
        {%- for table in decision_tables() %}
            {%- set ddl -%}
                create table if not exists decisions.{{ table.name }} (
                    {%- for column in table.columns.values() if column.name != 'decision_date' %}
                    {{ column.name }} {{ column.data_type }},
                    {%- endfor %}
                    decision_date date
                ) using parquet partitioned by (decision_date)
            {%- endset %}
            {%- do run_query(ddl) %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{% macro duckdb__create_decision_tables() -%}
    {#- DuckDB: with not-null constraints, checked as the job writes, and a primary key only
        where the source's meta.key_index is not false (the grain of these tables is checked by
        the job, night by night: scoring/model/job_tables.py). -#}
    {%- if execute %}
        create schema if not exists decisions;
        {%- for table in decision_tables() %}
            {%- set columns = [] %}
            {%- for column in table.columns.values() %}
                {%- do columns.append(column.name ~ ' ' ~ column.data_type ~ ('' if column.meta.get('nullable') else ' not null')) %}
            {%- endfor %}
            {%- if table.source_meta.get('key_index', true) %}
                {%- do columns.append('primary key (' ~ (table.meta.primary_key | join(', ')) ~ ')') %}
            {%- endif %}
            create table if not exists decisions.{{ table.name }} (
                {{ columns | join(',\n                ') }}
            ){{ ';' if not loop.last }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
