{#- The A/B period as it has requests: one row per (metric, arm) with requests in the period
    (every metric gets every arm, so that an arm with no request in a metric's scope still has
    its row), with the period's first and last night and its number of nights. -#}

with

requests as (

    select * from {{ ref('int_ab__requests') }}

),

metrics as (

    select 'accuracy' as metric
    union all
    select 'cache_hit_rate' as metric

),

arms as (

    select distinct arm from requests

),

nights as (

    select
        min(decision_date) as first_night,
        max(decision_date) as last_night,
        count(distinct decision_date) as nights
    from requests

),

final as (

    select
        metrics.metric,
        arms.arm,
        nights.first_night,
        nights.last_night,
        nights.nights
    from metrics
    cross join arms
    cross join nights

)

select * from final
