{#- Dates as portable SQL: day numbers, day arithmetic and the bounds of a reporting period. -#}

{% macro day_number(date_column) -%}
    {#- Days since 1970-01-01, a bigint on every engine. -#}
    {{ return(adapter.dispatch('day_number')(date_column)) }}
{%- endmacro %}

{% macro default__day_number(date_column) -%}
    cast({{ dbt.datediff("cast('1970-01-01' as date)", date_column, "day") }} as bigint)
{%- endmacro %}

{% macro spark__day_number(date_column) -%}
    cast(unix_date({{ date_column }}) as bigint)
{%- endmacro %}

{% macro add_days(days, date_expression) -%}
    {#- A DATE `days` days after `date_expression`. -#}
    {{ return(adapter.dispatch('add_days')(days, date_expression)) }}
{%- endmacro %}

{% macro default__add_days(days, date_expression) -%}
    {#- dbt.dateadd gives a timestamp on DuckDB -#}
    cast({{ dbt.dateadd('day', days, date_expression) }} as date)
{%- endmacro %}

{% macro spark__add_days(days, date_expression) -%}
    {#- dbt-spark's dateadd goes through unix timestamps (and the session's time zone) -#}
    date_add({{ date_expression }}, {{ days }})
{%- endmacro %}

{% macro period_bound(var_name, default_date) -%}
    {#- The date of var(var_name) as a SQL date, or `default_date` (a quoted ISO literal) when
        the var is null: an open end of a reporting period. -#}
    {%- set value = var(var_name) -%}
    cast({{ "'" ~ value ~ "'" if value else default_date }} as date)
{%- endmacro %}

{% macro distinct_dates(relation, column) -%}
    {#- At execution, the distinct values of the date `column` of `relation` as ISO strings,
        sorted; empty when parsing (not executing) or when `relation` does not exist yet (a
        compile on an empty warehouse, such as the linter's). -#}
    {%- if not execute or load_relation(relation) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select distinct cast({{ column }} as string) as value from {{ relation }} order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | map('string') | list) }}
{%- endmacro %}
