{#- One row per (arm, metric) for every arm but the reference arm (var('ab_reference_arm')),
    among the arms with requests in the period (int_ab__period; values null when a metric has
    no requests, e.g. accuracy when no request was a candidate pair): the arm's value and the
    reference's, the difference and its 95% interval. The metrics are ratios of request counts
    per user (int_ab__user_metrics). Users, not requests, are the independent units, so each
    arm's variance is the cluster-robust (by user) variance of a ratio:
    m / (m - 1) * sum_u (y_u - r * n_u)^2 / (sum_u n_u)^2 over its m users. -#}

with

user_metrics as (

    select * from {{ ref('int_ab__user_metrics') }}

),

period as (

    select * from {{ ref('int_ab__period') }}

),

per_arm as (

    select
        metric,
        arm,
        count(*) as user_count,
        cast(sum(request_count) as bigint) as requests,
        cast(sum(success_count) as double) / sum(request_count) as metric_value
    from user_metrics
    group by metric, arm

),

residual_sums as (

    select
        per_arm.metric,
        per_arm.arm,
        sum(
            (user_metrics.success_count - per_arm.metric_value * user_metrics.request_count)
            * (user_metrics.success_count - per_arm.metric_value * user_metrics.request_count)
        ) as sum_of_squares
    from per_arm
    inner join user_metrics
        on per_arm.metric = user_metrics.metric and per_arm.arm = user_metrics.arm
    group by per_arm.metric, per_arm.arm

),

variances as (

    select
        period.metric,
        period.arm,
        period.first_night,
        period.last_night,
        period.nights,
        coalesce(per_arm.user_count, 0) as user_count,
        coalesce(per_arm.requests, 0) as requests,
        per_arm.metric_value,
        case
            when per_arm.user_count > 1
                then
                    cast(per_arm.user_count as double) / (per_arm.user_count - 1) * residual_sums.sum_of_squares
                    / (cast(per_arm.requests as double) * per_arm.requests)
        end as variance
    from period
    left join per_arm
        on period.metric = per_arm.metric and period.arm = per_arm.arm
    left join residual_sums
        on period.metric = residual_sums.metric and period.arm = residual_sums.arm

),

final as (

    select
        arm.metric,
        arm.arm,
        reference.arm as reference_arm,
        arm.first_night,
        arm.last_night,
        arm.nights,
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

)

select * from final
