{#-
    The tables the nightly job writes (scoring/decide.py) and the outcome models read, as dbt
    sources. They are created empty here (on-run-start) when absent, so that the models over
    them build on a fresh warehouse too; Python only fills them.
-#}

{% macro create_decision_tables() -%}
    {{ return(adapter.dispatch('create_decision_tables')()) }}
{%- endmacro %}

{% macro decision_table_columns() -%}
    {#- table: [(column, type)], the columns of Spark's DDL. DuckDB's, with its constraints, is
        written out below and must list the same columns (a second definition: issue 13). -#}
    {{ return({
        'cache_decisions': [
            ('decision_date', 'date'), ('user_id', 'bigint'), ('track_id', 'string'),
            ('arm', 'string'), ('p_play', 'double'), ('should_cache', 'boolean'),
            ('model_version', 'string'), ('run_id', 'string'), ('decided_at', 'timestamp'),
        ],
        'track_default_decisions': [
            ('decision_date', 'date'), ('track_id', 'string'), ('p_play', 'double'),
            ('should_cache', 'boolean'), ('model_version', 'string'), ('run_id', 'string'),
            ('decided_at', 'timestamp'),
        ],
        'user_arms': [
            ('decision_date', 'date'), ('user_id', 'bigint'), ('arm', 'string'),
            ('run_id', 'string'), ('decided_at', 'timestamp'),
        ],
    }) }}
{%- endmacro %}

{% macro spark__create_decision_tables() -%}
    {#- Spark: Parquet tables partitioned by night, so the job overwrites one night's partition
        (insert overwrite ... partition (decision_date)). Parquet tables cannot enforce not null
        or keys: the grain and not-null data tests on the sources check them instead. Spark runs
        one statement at a time, so the statements run here and the hook itself is empty. -#}
    {%- if execute %}
        {%- do run_query('create schema if not exists decisions') %}
        {%- for table, columns in decision_table_columns().items() %}
            {%- set ddl -%}
                create table if not exists decisions.{{ table }} (
                    {%- for name, type in columns if name != 'decision_date' %}
                    {{ name }} {{ type }},
                    {%- endfor %}
                    decision_date date
                ) using parquet partitioned by (decision_date)
            {%- endset %}
            {%- do run_query(ddl) %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{% macro duckdb__create_decision_tables() -%}
    {#- DuckDB: with not-null constraints and primary keys, checked as the job writes. -#}
    create schema if not exists decisions;
    create table if not exists decisions.cache_decisions (
        decision_date date not null,
        user_id bigint not null,
        track_id string not null,
        arm string not null,
        p_play double not null,
        should_cache boolean not null,
        model_version string not null,
        run_id string not null,
        decided_at timestamp not null,
        primary key (decision_date, user_id, track_id)
    );
    create table if not exists decisions.track_default_decisions (
        decision_date date not null,
        track_id string not null,
        p_play double not null,
        should_cache boolean not null,
        model_version string not null,
        run_id string not null,
        decided_at timestamp not null,
        primary key (decision_date, track_id)
    );
    create table if not exists decisions.user_arms (
        decision_date date not null,
        user_id bigint not null,
        arm string not null,
        run_id string not null,
        decided_at timestamp not null,
        primary key (decision_date, user_id)
    )
{%- endmacro %}
