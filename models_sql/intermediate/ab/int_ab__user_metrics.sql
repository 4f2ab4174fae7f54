{#- One row per (metric, arm, user) over the A/B period (var('ab_start_date') to
    var('ab_end_date'), every night with outcomes when null): the user's requests in the
    metric's scope and how many succeeded. The metrics are ratios of request counts:
      - accuracy: of the requests answered by the pair's own decision, those decided right
        (cached and played through, or not cached and skipped);
      - cache_hit_rate: of all requests, those whose track was cached.
    Users are the units of the A/B test (arms are drawn per user), hence one row per user. -#}

with

requests as (

    select * from {{ ref('int_ab__requests') }}

),

accuracy as (

    select
        'accuracy' as metric,
        arm,
        user_id,
        count(*) as request_count,
        cast(sum(case when is_cached = is_played_through then 1 else 0 end) as bigint) as success_count
    from requests
    where answered_by = 'pair'
    group by arm, user_id

),

cache_hit_rate as (

    select
        'cache_hit_rate' as metric,
        arm,
        user_id,
        count(*) as request_count,
        cast(sum(case when is_cached then 1 else 0 end) as bigint) as success_count
    from requests
    group by arm, user_id

),

final as (

    select * from accuracy
    union all
    select * from cache_hit_rate

)

select * from final
