{{ config(unique_key='feature_date', partition_by=engine_partition_by('feature_date')) }}
{#- fct_listens: what changed since this model's last run (on an incremental run) -#}
{%- set fct_listens = ref('fct_listens') %}

{#- One row per feature date: what the whole export knew before that date (the prior of the
    smoothed rates). -#}

with

user_daily as (

    select * from {{ ref('int_user_listens_daily') }}

),

daily as (

    select
        listen_date,
        sum(listens) as listens,
        sum(skips) as skips,
        sum(likes) as likes
    from user_daily
    group by listen_date

),

spine as (

    select
        listen_date,
        sum(listens) as listens,
        sum(skips) as skips,
        sum(likes) as likes
    from (
        select
            listen_date,
            listens,
            skips,
            likes
        from daily
        union all
        select
            listen_date,
            0 as listens,
            0 as skips,
            0 as likes
        from ({{ spine_dates('daily') }}) as spine_days
    ) as spined
    group by listen_date

),

numbered as (

    select
        *,
        {{ day_number('listen_date') }} as day_number
    from spine

),

history as (

    select
        listen_date as feature_date,
        cast(coalesce(sum(listens) over (order by day_number range between unbounded preceding and 1 preceding), 0) as bigint)
            as global_listens_before,
        cast(coalesce(sum(skips) over (order by day_number range between unbounded preceding and 1 preceding), 0) as bigint)
            as global_skips_before,
        cast(coalesce(sum(likes) over (order by day_number range between unbounded preceding and 1 preceding), 0) as bigint)
            as global_likes_before
    from numbered

),

final as (

    select
        feature_date,
        global_listens_before,
        global_skips_before,
        case
            when global_listens_before > 0 then cast(global_skips_before as double) / global_listens_before
            else cast({{ var('cold_start_skip_rate') }} as double)
        end as global_skip_rate,
        case
            when global_listens_before > 0 then cast(global_likes_before as double) / global_listens_before
            else cast({{ var('cold_start_like_rate') }} as double)
        end as global_like_rate,
        {{ run_loaded_at() }} as loaded_at
    from history
    {% if is_incremental() %}
        where {{ refresh_dates_filter('feature_date', fct_listens) }}
    {% endif %}

)

select * from final
