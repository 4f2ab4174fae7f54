{% macro create_decision_tables() -%}
    {#-
        The tables the nightly job writes (scoring/decide.py) and the outcome models read, as
        dbt sources. They are created empty here (on-run-start) when absent, so that the
        models over them build on a fresh warehouse too; Python only fills them. DuckDB DDL.
    -#}
    create schema if not exists decisions;
    create table if not exists decisions.cache_decisions (
        decision_date date not null,
        user_id bigint not null,
        track_id varchar not null,
        arm varchar not null,
        p_play double not null,
        should_cache boolean not null,
        model_version varchar not null,
        run_id varchar not null,
        decided_at timestamp not null,
        primary key (decision_date, user_id, track_id)
    );
    create table if not exists decisions.track_default_decisions (
        decision_date date not null,
        track_id varchar not null,
        p_play double not null,
        should_cache boolean not null,
        model_version varchar not null,
        run_id varchar not null,
        decided_at timestamp not null,
        primary key (decision_date, track_id)
    );
    create table if not exists decisions.user_arms (
        decision_date date not null,
        user_id bigint not null,
        arm varchar not null,
        run_id varchar not null,
        decided_at timestamp not null,
        primary key (decision_date, user_id)
    )
{%- endmacro %}
