{#- One row per (arm, metric) for every arm but the reference arm (var('ab_reference_arm')),
    among the arms with requests in the period (values null when a metric has no requests:
    e.g. accuracy when no request was a candidate pair):
    the arm's value and the reference's over the nights from var('ab_start_date') to
    var('ab_end_date') (every night with outcomes when null), the difference and its 95%
    interval. Metrics are ratios of request counts (accuracy over covered requests, cache hit
    rate over all requests). Users, not requests, are the independent units (arms are drawn
    per user), so each arm's variance is the cluster-robust (by user) variance of a ratio:
    m / (m - 1) * sum_u (y_u - r * n_u)^2 / (sum_u n_u)^2 over its m users. -#}

{%- set metrics = {
    'accuracy': ("answered_by = 'pair'", "is_cached = is_played_through"),
    'cache_hit_rate': ("1 = 1", "is_cached"),
} -%}

with

requests as (

    select * from {{ ref('int_decision_requests') }}
    where
        arm is not null
        and decision_date >= {{ period_bound('ab_start_date', "'0001-01-01'") }}
        and decision_date <= {{ period_bound('ab_end_date', "'9999-12-31'") }}

),

per_user as (

    {%- for metric, (scope, success) in metrics.items() %}
        select
            '{{ metric }}' as metric,
            arm,
            user_id,
            count(*) as request_count,
            cast(sum(case when {{ success }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as success_count
        from requests
        where {{ scope }}
        group by arm, user_id
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

per_arm as (

    select
        metric,
        arm,
        count(*) as user_count,
        cast(sum(request_count) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(success_count) as double) / sum(request_count) as metric_value
    from per_user
    group by metric, arm

),

residuals as (

    select
        per_arm.metric,
        per_arm.arm,
        per_user.success_count - per_arm.metric_value * per_user.request_count as residual
    from per_arm
    inner join per_user
        on per_arm.metric = per_user.metric and per_arm.arm = per_user.arm

),

residual_sums as (

    select
        metric,
        arm,
        sum(residual * residual) as sum_of_squares
    from residuals
    group by metric, arm

),

metric_arms as (

    {%- for metric in metrics %}
        select distinct
            '{{ metric }}' as metric,
            arm
        from requests
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

variances as (

    select
        metric_arms.metric,
        metric_arms.arm,
        coalesce(per_arm.user_count, 0) as user_count,
        coalesce(per_arm.requests, 0) as requests,
        per_arm.metric_value,
        case
            when per_arm.user_count > 1
                then
                    cast(per_arm.user_count as double) / (per_arm.user_count - 1) * residual_sums.sum_of_squares
                    / (cast(per_arm.requests as double) * per_arm.requests)
        end as variance
    from metric_arms
    left join per_arm
        on metric_arms.metric = per_arm.metric and metric_arms.arm = per_arm.arm
    left join residual_sums
        on metric_arms.metric = residual_sums.metric and metric_arms.arm = residual_sums.arm

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
        arm.metric,
        arm.arm,
        reference.arm as reference_arm,
        nights.first_night,
        nights.last_night,
        nights.nights,
        arm.user_count,
        reference.user_count as reference_user_count,
        arm.requests,
        reference.requests as reference_requests,
        arm.metric_value,
        reference.metric_value as reference_metric_value,
        arm.metric_value - reference.metric_value as difference,
        arm.metric_value - reference.metric_value
        - 1.96 * sqrt(arm.variance + reference.variance) as difference_low,
        arm.metric_value - reference.metric_value
        + 1.96 * sqrt(arm.variance + reference.variance) as difference_high
    from variances as arm
    inner join variances as reference
        on
            arm.metric = reference.metric
            and reference.arm = '{{ var("ab_reference_arm") }}'
            and arm.arm <> reference.arm
    cross join nights

)

select * from final
