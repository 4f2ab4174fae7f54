{#-
    Incremental pattern shared by the listen and feature models. Every incremental model stamps
    the rows it (re)computes with loaded_at = the run's start; a downstream model picks up what
    changed since its own last run by comparing loaded_at. Portable SQL (no DuckDB-only syntax; `string`, `double`, `bigint` types).
-#}

{% macro run_loaded_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{% macro last_loaded_at() -%}
    (select coalesce(max(loaded_at), cast('1900-01-01' as timestamp)) from {{ this }})
{%- endmacro %}

{% macro first_changed_listen_date() -%}
    {#- The earliest listen_date among fct_listens rows changed since this model last ran:
        every date from it on is recomputed (late events included); null when nothing changed. -#}
    (
        select min(changed.listen_date)
        from {{ ref('fct_listens') }} as changed
        where changed.loaded_at > {{ last_loaded_at() }}
    )
{%- endmacro %}

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

{% macro smoothed_rate(events, listens, prior, weight) -%}
    {#- A double on every engine: the prior is a double (Spark would make a literal weight times
        a decimal a decimal). -#}
    ({{ events }} + {{ weight }} * {{ prior }}) / ({{ listens }} + {{ weight }})
{%- endmacro %}

{% macro clamped_logit(rate) -%}
    {#- ln(p / (1 - p)) with p kept within [0.001, 0.999], so that a rate of 0 or 1 stays finite. -#}
    ln(
        greatest(least({{ rate }}, 0.999), 0.001)
        / (1 - greatest(least({{ rate }}, 0.999), 0.001))
    )
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

{% macro decided_nights() -%}
    {#- The nights with decisions that an outcome model computes, with the night's decided_at
        (`night_decided_at`, which the model stores on its rows): every night on a full build;
        on an incremental run the nights whose decisions were written since this model stored
        them (compared by decided_at, not by clock, so a re-run night is picked up) and the
        nights whose listens changed since. -#}
    select
        arms.decision_date,
        arms.night_decided_at
    from (
        select
            decision_date,
            max(decided_at) as night_decided_at
        from {{ source('decisions', 'user_arms') }}
        group by decision_date
    ) as arms
    {%- if is_incremental() %}
        left join (
            select
                decision_date,
                max(night_decided_at) as night_decided_at
            from {{ this }}
            group by decision_date
        ) as stored
            on arms.decision_date = stored.decision_date
        where
            stored.night_decided_at is null
            or stored.night_decided_at <> arms.night_decided_at
            or arms.decision_date in (
                select changed.listen_date
                from {{ ref('fct_listens') }} as changed
                where changed.loaded_at > {{ last_loaded_at() }}
            )
    {%- endif %}
{%- endmacro %}

{% macro period_bound(var_name, default_date) -%}
    {#- The date of var(var_name) as a SQL date, or `default_date` (a quoted ISO literal) when
        the var is null: an open end of a reporting period. -#}
    {%- set value = var(var_name) -%}
    cast({{ "'" ~ value ~ "'" if value else default_date }} as date)
{%- endmacro %}
