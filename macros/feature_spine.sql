{% macro feature_spine(daily_relation, keys, count_columns) -%}
    {#-
        The dates a feature table has rows for: every day the entity had listens, plus the day
        after the last listen of the whole export for every entity seen (the default decision
        date of the nightly job), with zero counts. Portable SQL (dbt cross-database macros).
    -#}
    select
        {{ keys | join(', ') }},
        listen_date,
        {{ count_columns | join(', ') }}
    from {{ daily_relation }}
    union all
    select distinct
        {% for k in keys %}entities.{{ k }},{% endfor %}
        next_day.listen_date,
        {% for c in count_columns %}0 as {{ c }}{{ "," if not loop.last }}{% endfor %}
    from {{ daily_relation }} as entities
    cross join (
        select {{ dbt.dateadd('day', 1, 'max(listen_date)') }} as listen_date from {{ daily_relation }}
    ) as next_day
{%- endmacro %}
