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

{% macro point_in_time_history(daily_relation, listens, prefix, keys, count_columns, window_columns=['listens', 'skips'], days_since_column=none, daily_table=none) -%}
    {#-
        One row per entity (`keys`) and feature date with its history strictly before that date:
        `<prefix>_<count>_before` over all earlier days, `<prefix>_<count>_<w>d` over the
        var('feature_windows_days') windows, and, when the model stores the days since the last
        listen (`days_since_column`), last_listen_day_number. The feature dates are the days the
        entity had listens and the spine dates (macro spine_dates): every entity with a daily row
        gets a row at every spine date (zero counts when it has no listen before it). One pass of
        running sums (window functions) over the entity's daily rows with its spine dates put in
        as rows of zero counts.
        On an incremental run only the dates it writes are computed (macro refresh_dates_filter:
        from the first changed listen date on, and the requested decision dates, for every
        entity), and only the daily rows from the widest window before the first of them are
        windowed: what came before is one total per entity (`history_base`) added to the running
        sums. On an ordinary night that total is read from the model's own rows up to its
        last stored date (macro stored_history_base); otherwise (a past decision date asked for, an
        empty table, stored rows older than a later drop: macro stored_history_point) it is one
        grouped sum over the older daily rows. Only the entities with daily rows from the
        history start on (`recent`) go through the window functions; the others (`quiet`, most
        of them on a night) have no listen in any window of a date written, so their spine rows
        are their totals with zero windows, written without a sort. `listens` (fct_listens)
        tells an incremental run what changed. Portable SQL.
    -#}
    {%- set key_list = keys | join(', ') -%}
    {%- set windowed = count_columns | select('in', window_columns) | list -%}
    {%- set widest_window = (var('feature_windows_days') | max) if windowed else 0 -%}
    {%- set last_listen = days_since_column is not none -%}
    {%- set stored = stored_history_point(listens, widest_window, daily_table) if is_incremental() and daily_table is not none else none -%}
    {%- set history_start = "cast('" ~ stored.history_start ~ "' as date)" if stored
        else history_start_date(listens, widest_window) -%}
    {%- if is_incremental() %}
    with

    history_base as (
        {%- if stored %}
        {{ stored_history_base(prefix, keys, count_columns, stored, days_since_column) }}
        {%- else %}
        select
            {{ key_list }},
            {% for c in count_columns %}cast(sum({{ c }}) as bigint) as {{ c }}{% if not loop.last or last_listen %},{% endif %} {% endfor %}
            {% if last_listen %}max(case when listens > 0 then {{ day_number('listen_date') }} end) as last_listen_day_number{% endif %}
        from {{ daily_relation }}
        where listen_date < {{ history_start }}
        group by {{ key_list }}
        {%- endif %}
    ),

    recent as (
        {#- the entities with daily rows the windows of the dates written can see #}
        select distinct {{ key_list }}
        from {{ daily_relation }}
        where listen_date >= {{ history_start }}
    )

    {%- endif %}
    select
        {% for k in keys %}history.{{ k }},{% endfor %}
        history.feature_date,
        history.day_number,
        {%- for c in count_columns %}
            {%- if is_incremental() %}
                cast(history.{{ prefix }}_{{ c }}_before + coalesce(history_base.{{ c }}, 0) as bigint)
                    as {{ prefix }}_{{ c }}_before
            {%- else %}
                history.{{ prefix }}_{{ c }}_before
            {%- endif %}
            {%- for w in (var('feature_windows_days') if c in window_columns else []) %},
                history.{{ prefix }}_{{ c }}_{{ w }}d
            {%- endfor %}
            {%- if not loop.last or last_listen %},{% endif %}
        {%- endfor %}
        {%- if last_listen and is_incremental() %}
            coalesce(history.last_listen_day_number, history_base.last_listen_day_number) as last_listen_day_number
        {%- elif last_listen %}
            history.last_listen_day_number
        {%- endif %}
    from (
        select
            {{ key_list }},
            feature_date,
            day_number,
            is_written,
            {{ history_windows(prefix, key_list, count_columns, window_columns, last_listen) }}
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
            from (
                {%- if is_incremental() %}
                    select {{ key_list }} from recent
                {%- else %}
                    select distinct {{ key_list }} from {{ daily_relation }}
                {%- endif %}
            ) as entities
            cross join ({{ spine_dates(daily_relation) }}) as spine
            left join (
                select {{ key_list }}, listen_date
                from {{ daily_relation }}
                {%- if is_incremental() %}
                    {#- the spine dates written are the history start's or later #}
                    where listen_date >= {{ history_start }}
                {%- endif %}
            ) as same_day
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
        left join history_base
            on {{ keys_match(keys, 'history', 'history_base') }}
        where history.is_written

    union all

    {#- quiet entities: no daily row from the history start on, so at a date written their
        windows are empty, their totals are history_base's and their last listen is its #}
    select
        {% for k in keys %}quiet.{{ k }},{% endfor %}
        spine.listen_date as feature_date,
        {{ day_number('spine.listen_date') }} as day_number,
        {%- for c in count_columns %}
            cast(coalesce(quiet.{{ c }}, 0) as bigint) as {{ prefix }}_{{ c }}_before
            {%- for w in (var('feature_windows_days') if c in window_columns else []) %},
                cast(0 as bigint) as {{ prefix }}_{{ c }}_{{ w }}d
            {%- endfor %}
            {%- if not loop.last or last_listen %},{% endif %}
        {%- endfor %}
        {%- if last_listen %}
            quiet.last_listen_day_number
        {%- endif %}
    from history_base as quiet
    cross join ({{ spine_dates(daily_relation) }}) as spine
    left join recent
        on {{ keys_match(keys, 'quiet', 'recent') }}
    where
        recent.{{ keys[0] }} is null
        and {{ refresh_dates_filter('spine.listen_date', listens) }}
    {%- endif %}
{%- endmacro %}

{% macro stored_history_point(listens, widest_window, daily_table) -%}
    {#- On an incremental run (at execution), whether the totals before the history start can
        start from the model's own rows: {'as_of': its last stored feature date,
        'history_start': history_start_date} as ISO strings when
        something changed and no date before the first changed one is asked for; none otherwise
        (nothing changed, a past decision date asked for, an empty table), or when the rows at
        the last stored date are older than a daily row before the first changed date (`daily_table`,
        the daily model's table: a date asked ahead of the data keeps its rows while later drops
        arrive, or a daily model was rebuilt alone). The last stored date is a spine date (the
        day after the last listen, or a later requested date), so every entity with a daily row
        when it was written has a row at it holding its totals strictly before it. -#}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set probe -%}
        select
            cast((select max(feature_date) from {{ this }}) as string) as as_of,
            cast({{ first_changed_listen_date(listens) }} as string) as first_changed
    {%- endset -%}
    {%- set row = run_query(probe).rows[0] -%}
    {%- if row['as_of'] is none or row['first_changed'] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set as_of = row['as_of'] | string -%}
    {%- set first_changed = row['first_changed'] | string -%}
    {%- set requested = decision_date_list() -%}
    {%- if requested and (requested | min) < first_changed -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set settled -%}
        select
            case
                when (
                    select max(loaded_at) from {{ daily_table }}
                    where listen_date < cast('{{ [as_of, first_changed] | min }}' as date)
                ) > (
                    select min(loaded_at) from {{ this }}
                    where feature_date = cast('{{ as_of }}' as date)
                ) then 0
                else 1
            end as usable
    {%- endset -%}
    {%- if run_query(settled).rows[0]['usable'] != 1 -%}
        {{ return(none) }}
    {%- endif -%}
    {#- history_start_date, with no requested date before the first changed one #}
    {%- set history_start = modules.datetime.date.fromisoformat(first_changed)
        - modules.datetime.timedelta(days=widest_window) -%}
    {{ return({'as_of': as_of, 'history_start': history_start.isoformat()}) }}
{%- endmacro %}

{% macro stored_history_base(prefix, keys, count_columns, stored, days_since_column=none) -%}
    {#- Per entity, the totals of `count_columns` over the days before stored.history_start (and
        the last day with a listen before it, when the model stores `days_since_column`), read
        from the model's own rows: the entity's first stored row from the history start up to
        the last stored date (stored.as_of). That row is there for every entity the model knew
        (each has a row at as_of, a spine date), and it holds the totals before the history
        start: the model has a row at every day the entity had a listen, so there was no listen
        between the history start and that row's date; and the stored rows up to the first
        changed date were computed from daily rows that have not changed since (the history
        start is on or before it). An entity the model did not know has no daily row before
        the first changed date, so nothing before the history start. One scan of the stored
        rows of those few dates: before, the entities with a changed day were summed again from
        all their daily rows (a scan of all 47 M (user, genre) daily rows at 10x the v2 preset,
        12.4 s of a 14.9 s select). min_by skips no null on Spark but does on DuckDB, hence the
        sentinel for a null last listen. -#}
    {%- set as_of = "cast('" ~ stored.as_of ~ "' as date)" -%}
    {#- after days without data the history start can be later than as_of: there is no daily
        row between them (a new one would be a changed date), so the row at as_of holds the
        totals before the history start -#}
    {%- set start = "cast('" ~ ([stored.history_start, stored.as_of] | min) ~ "' as date)" -%}
    -- the totals before the history start, from the stored rows (stored_history_base)
    select
        {{ keys | join(', ') }},
        {%- for c in count_columns %}
            min_by({{ prefix }}_{{ c }}_before, feature_date) as {{ c }}
            {%- if not loop.last or days_since_column is not none %},{% endif %}
        {%- endfor %}
        {%- if days_since_column is not none %}
            nullif(min_by(
                case
                    when {{ prefix }}_listens_before > 0
                        then {{ day_number('feature_date') }} - {{ days_since_column }}
                    else -1
                end,
                feature_date
            ), -1) as last_listen_day_number
        {%- endif %}
    from {{ this }}
    where feature_date >= {{ start }} and feature_date <= {{ as_of }}
    group by {{ keys | join(', ') }}
{%- endmacro %}

{% macro keys_match(keys, left, right) -%}
    {#- The join condition of two relations on the key columns `keys`: left.k = right.k for
        each, joined by and. -#}
    {%- for k in keys %}{% if not loop.first %} and {% endif %}{{ left }}.{{ k }} = {{ right }}.{{ k }}{% endfor -%}
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

{% macro history_windows(prefix, partition_by, count_columns, window_columns=['listens', 'skips'], last_listen=true) -%}
    {#-
        For each daily row, sums of `count_columns` over the same entity's days strictly before
        it (all history, and each window of var('feature_windows_days') days), plus the last day
        with a listen before it when `last_listen`. The frame ends at 1 preceding: nothing of the row's own day.
        The daily relation has one row per entity and day, so the all-history frame can count
        rows (a cheap running sum); the windows count days (a range frame).
    -#}
    {%- for c in count_columns %}
        {%- if not loop.first %},{% endif %}
        cast(coalesce(sum({{ c }}) over (
            partition by {{ partition_by }} order by day_number
            rows between unbounded preceding and 1 preceding
        ), 0) as bigint) as {{ prefix }}_{{ c }}_before
        {%- for w in (var('feature_windows_days') if c in window_columns else []) %},
            cast(coalesce(sum({{ c }}) over (
                partition by {{ partition_by }} order by day_number
                range between {{ w }} preceding and 1 preceding
            ), 0) as bigint) as {{ prefix }}_{{ c }}_{{ w }}d
        {%- endfor %}
    {%- endfor %}
    {%- if last_listen %},
        max(case when listens > 0 then day_number end) over (
            partition by {{ partition_by }} order by day_number
            rows between unbounded preceding and 1 preceding
        ) as last_listen_day_number
    {%- endif %}
{%- endmacro %}
