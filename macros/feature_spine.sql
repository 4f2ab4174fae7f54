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
        var('feature_windows_days') windows, and last_listen_day_number. Two parts, one row each:
          - the days the entity had listens: running sums over its own daily rows (window
            functions); on an incremental run only the entities with a changed day are
            recomputed, over their whole history, because untouched entities' rows stay valid;
          - the spine dates (macro spine_dates) where the entity had no listen: one grouped
            aggregate of its days before that date, so no zero rows are windowed.
        Every entity with a daily row gets a row at every spine date (zero counts when it has no
        listen before it). `listens` (fct_listens) tells an incremental run what changed.
        Portable SQL. The caller filters the dates an incremental run writes.
    -#}
    {%- set key_list = keys | join(', ') -%}
    {%- set windows = var('feature_windows_days') -%}
    select
        {{ key_list }},
        listen_date as feature_date,
        day_number,
        {{ history_windows(prefix, key_list, count_columns, window_columns) }}
    from (
        select
            {{ key_list }},
            listen_date,
            {{ count_columns | join(', ') }},
            {{ day_number('listen_date') }} as day_number
        from {{ daily_relation }}
        {%- if is_incremental() %}
            where ({{ key_list }}) in (
                select {{ key_list }} from {{ daily_relation }}
                where listen_date >= {{ first_changed_listen_date(listens) }}
            )
        {%- endif %}
    ) as listen_days

    union all

    select
        {% for k in keys %}entities.{{ k }}, {% endfor %}
        spine.listen_date as feature_date,
        {{ day_number('spine.listen_date') }} as day_number,
        {%- for c in count_columns %}
            cast(coalesce(sum(case when earlier.listen_date < spine.listen_date then earlier.{{ c }} end), 0) as bigint)
                as {{ prefix }}_{{ c }}_before,
            {%- for w in (windows if c in window_columns else []) %}
                cast(coalesce(sum(
                    case
                        when
                            earlier.listen_date < spine.listen_date
                            and earlier.listen_date >= {{ add_days(-w, 'spine.listen_date') }}
                            then earlier.{{ c }}
                    end
                ), 0) as bigint) as {{ prefix }}_{{ c }}_{{ w }}d,
            {%- endfor %}
        {%- endfor %}
        max(
            case
                when earlier.listen_date < spine.listen_date and earlier.listens > 0
                    then {{ day_number('earlier.listen_date') }}
            end
        ) as last_listen_day_number
    from (select distinct {{ key_list }} from {{ daily_relation }}) as entities
    cross join ({{ spine_dates(daily_relation) }}) as spine
    left join {{ daily_relation }} as earlier
        on
            {% for k in keys %}entities.{{ k }} = earlier.{{ k }} and {% endfor %}
            earlier.listen_date <= spine.listen_date
    {%- if is_incremental() %}
        where {{ refresh_dates_filter('spine.listen_date', listens) }}
    {%- endif %}
    group by {% for k in keys %}entities.{{ k }}, {% endfor %}spine.listen_date
    having max(case when earlier.listen_date = spine.listen_date then 1 else 0 end) = 0
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
