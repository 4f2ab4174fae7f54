{% macro decision_dates() -%}
    {#- The dates of var('decision_dates') (ISO strings; the nightly job and backfill pass them)
        as a one-column relation `listen_date`; empty when none were given. -#}
    {%- set dates = var('decision_dates', []) -%}
    {%- if dates %}
        {%- for d in dates %}
            select cast('{{ d }}' as date) as listen_date
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    {%- else %}
        select cast(null as date) as listen_date where 1 = 0
    {%- endif %}
{%- endmacro %}

{% macro refresh_dates_filter(column) -%}
    {#- On an incremental run: the dates from the first changed listen date on, and every
        requested decision date (its rows are recomputed whenever they are asked for). -#}
    (
        {{ column }} >= {{ first_changed_listen_date() }}
        or {{ column }} in (select requested.listen_date from ({{ decision_dates() }}) as requested)
    )
{%- endmacro %}

{% macro feature_spine(daily_relation, keys, count_columns) -%}
    {#-
        The dates a feature table has rows for: every day the entity had listens, plus, for
        every entity seen, the day after the last listen of the whole export (the default
        decision date of the nightly job) and each date of var('decision_dates'), with zero
        counts where the entity had no listens that day. Portable SQL.
    -#}
    select
        {{ keys | join(', ') }},
        listen_date,
        {%- for c in count_columns %}
            sum({{ c }}) as {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select
            {{ keys | join(', ') }},
            listen_date,
            {{ count_columns | join(', ') }}
        from {{ daily_relation }}
        union all
        select distinct
            {% for k in keys %}entities.{{ k }},{% endfor %}
            spine_dates.listen_date,
            {% for c in count_columns %}0 as {{ c }}{{ "," if not loop.last }}{% endfor %}
        from {{ daily_relation }} as entities
        cross join (
            select {{ add_days(1, 'max(listen_date)') }} as listen_date
            from {{ daily_relation }}
            union
            {{ decision_dates() }}
        ) as spine_dates
    ) as spined
    group by {{ keys | join(', ') }}, listen_date
{%- endmacro %}
