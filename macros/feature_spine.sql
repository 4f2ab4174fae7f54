{% macro decision_date_list() -%}
    {#- The nights to decide for, as ISO strings: var('decision_dates') when set (analysts:
        dbt build --vars), else the comma-separated environment variable
        SKIPCACHE_DECISION_DATES (the nightly job and backfill: unlike a changed var, a changed
        environment variable lets dbt re-parse only the files that use it). -#}
    {%- set dates = var('decision_dates', []) -%}
    {%- if not dates -%}
        {%- set from_env = env_var('SKIPCACHE_DECISION_DATES', '') | trim -%}
        {%- set dates = from_env.split(',') if from_env else [] -%}
    {%- endif -%}
    {{ return(dates | map('trim') | list) }}
{%- endmacro %}

{% macro decision_dates() -%}
    {#- The dates of decision_date_list() as a one-column relation `listen_date`; empty when
        none were given. -#}
    {%- set dates = decision_date_list() -%}
    {%- if dates %}
        {%- for d in dates %}
            select cast('{{ d }}' as date) as listen_date
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    {%- else %}
        select cast(null as date) as listen_date where 1 = 0
    {%- endif %}
{%- endmacro %}

{% macro refresh_dates_filter(column, listens) -%}
    {#- On an incremental run: the dates from the first changed listen date of `listens`
        (fct_listens) on, and every requested decision date (its rows are recomputed whenever
        they are asked for). -#}
    (
        {{ column }} >= {{ first_changed_listen_date(listens) }}
        or {{ column }} in (select requested.listen_date from ({{ decision_dates() }}) as requested)
    )
{%- endmacro %}

{% macro spine_dates(daily_relation) -%}
    {#- The dates every entity gets a feature row for, listens or not: the day after the last
        listen of the whole export (the nightly job's default decision date) and each decision
        date asked for (macro decision_date_list: var('decision_dates') or the environment
        variable SKIPCACHE_DECISION_DATES). -#}
    select {{ add_days(1, 'max(listen_date)') }} as listen_date
    from {{ daily_relation }}
    union
    {{ decision_dates() }}
{%- endmacro %}

{% macro point_in_time_history(daily_relation, listens, prefix, keys, count_columns, window_columns=['listens', 'skips']) -%}
    {#-
        One row per entity (`keys`) and feature date with its history strictly before that date:
        `<prefix>_<count>_before` over all earlier days, `<prefix>_<count>_<w>d` over the
        var('feature_windows_days') windows, and last_listen_day_number. The feature dates are
        the days the entity had listens and the spine dates (macro spine_dates): every entity
        with a daily row gets a row at every spine date (zero counts when it has no listen
        before it). One pass of running sums (window functions) over the entity's daily rows
        with its spine dates put in as rows of zero counts.
        On an incremental run only the dates it writes are computed (macro refresh_dates_filter:
        from the first changed listen date on, and the requested decision dates, for every
        entity), and only the daily rows from the widest window before the first of them are
        windowed: what came before is one grouped sum per entity (`history_base`) added to the
        running sums. `listens` (fct_listens) tells an incremental run what changed. Portable SQL.
    -#}
    {%- set key_list = keys | join(', ') -%}
    {%- set windowed = count_columns | select('in', window_columns) | list -%}
    {%- set history_start = history_start_date(listens, (var('feature_windows_days') | max) if windowed else 0) -%}
    select
        {% for k in keys %}history.{{ k }},{% endfor %}
        history.feature_date,
        history.day_number,
        {%- for c in count_columns %}
            {%- if is_incremental() %}
                cast(history.{{ prefix }}_{{ c }}_before + coalesce(history_base.{{ c }}, 0) as bigint)
                    as {{ prefix }}_{{ c }}_before,
            {%- else %}
                history.{{ prefix }}_{{ c }}_before,
            {%- endif %}
            {%- for w in (var('feature_windows_days') if c in window_columns else []) %}
                history.{{ prefix }}_{{ c }}_{{ w }}d,
            {%- endfor %}
        {%- endfor %}
        {%- if is_incremental() %}
            coalesce(history.last_listen_day_number, history_base.last_listen_day_number) as last_listen_day_number
        {%- else %}
            history.last_listen_day_number
        {%- endif %}
    from (
        select
            {{ key_list }},
            feature_date,
            day_number,
            is_written,
            {{ history_windows(prefix, key_list, count_columns, window_columns) }}
        from (
            select
                {{ key_list }},
                listen_date as feature_date,
                {{ count_columns | join(', ') }},
                {{ day_number('listen_date') }} as day_number,
                {% if is_incremental() -%}
                    {{ refresh_dates_filter('listen_date', listens) }}
                {%- else -%}
                    true
                {%- endif %} as is_written
            from {{ daily_relation }}
            {%- if is_incremental() %}
                where listen_date >= {{ history_start }}
            {%- endif %}

            union all

            select
                {% for k in keys %}entities.{{ k }}, {% endfor %}
                spine.listen_date as feature_date,
                {% for c in count_columns %}cast(0 as bigint) as {{ c }}, {% endfor %}
                {{ day_number('spine.listen_date') }} as day_number,
                true as is_written
            from (select distinct {{ key_list }} from {{ daily_relation }}) as entities
            cross join ({{ spine_dates(daily_relation) }}) as spine
            left join {{ daily_relation }} as same_day
                on
                    {% for k in keys %}entities.{{ k }} = same_day.{{ k }} and {% endfor %}
                    spine.listen_date = same_day.listen_date
            where
                same_day.listen_date is null
                {%- if is_incremental() %}
                    and {{ refresh_dates_filter('spine.listen_date', listens) }}
                {%- endif %}
        ) as points
    ) as history
    {%- if is_incremental() %}
        left join (
            select
                {{ key_list }},
                {% for c in count_columns %}cast(sum({{ c }}) as bigint) as {{ c }}, {% endfor %}
                max(case when listens > 0 then {{ day_number('listen_date') }} end) as last_listen_day_number
            from {{ daily_relation }}
            where listen_date < {{ history_start }}
            group by {{ key_list }}
        ) as history_base
            on {% for k in keys %}{% if not loop.first %} and {% endif %}history.{{ k }} = history_base.{{ k }}{% endfor %}
        where history.is_written
    {%- endif %}
{%- endmacro %}

{% macro history_start_date(listens, widest_window) -%}
    {#- On an incremental run, the first day whose daily rows a feature date it writes needs:
        the widest window (days) before the first of those dates (macro refresh_dates_filter);
        null when it writes none. -#}
    (
        select {{ add_days(-widest_window, 'min(written.listen_date)') }}
        from (
            select {{ first_changed_listen_date(listens) }} as listen_date
            union all
            select requested.listen_date from ({{ decision_dates() }}) as requested
        ) as written
    )
{%- endmacro %}

{% macro decision_nights(listens) -%}
    {#- The nights to decide for, as a one-column relation `decision_date`: the requested
        decision dates (macro decision_date_list), else the day after the last listen of
        `listens` (a relation with listen_date). -#}
    {% if decision_date_list() %}
        select listen_date as decision_date from ({{ decision_dates() }}) as requested
    {% else %}
        select {{ add_days(1, 'max(listen_date)') }} as decision_date from {{ listens }}
    {% endif %}
{%- endmacro %}

{% macro history_windows(prefix, partition_by, count_columns, window_columns=['listens', 'skips']) -%}
    {#-
        For each daily row, sums of `count_columns` over the same entity's days strictly before
        it (all history, and each window of var('feature_windows_days') days), plus the last day
        with a listen before it. The frame ends at 1 preceding: nothing of the row's own day.
        The daily relation has one row per entity and day, so the all-history frame can count
        rows (a cheap running sum); the windows count days (a range frame).
    -#}
    {%- for c in count_columns %}
        cast(coalesce(sum({{ c }}) over (
            partition by {{ partition_by }} order by day_number
            rows between unbounded preceding and 1 preceding
        ), 0) as bigint) as {{ prefix }}_{{ c }}_before,
        {%- for w in (var('feature_windows_days') if c in window_columns else []) %}
            cast(coalesce(sum({{ c }}) over (
                partition by {{ partition_by }} order by day_number
                range between {{ w }} preceding and 1 preceding
            ), 0) as bigint) as {{ prefix }}_{{ c }}_{{ w }}d,
        {%- endfor %}
    {%- endfor %}
    max(case when listens > 0 then day_number end) over (
        partition by {{ partition_by }} order by day_number
        rows between unbounded preceding and 1 preceding
    ) as last_listen_day_number
{%- endmacro %}
