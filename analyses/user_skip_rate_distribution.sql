-- How users' skip rates are spread: users per 5-point bucket of their skip rate over all
-- their listens (users with at least 10 listens).
with per_user as (
    select
        user_id,
        count(*) as listens,
        avg(case when is_skipped then 1.0 else 0.0 end) as skip_rate
    from {{ ref('fct_listens') }}
    group by user_id
    having count(*) >= 10
)

select
    floor(skip_rate * 20) / 20 as skip_rate_from,
    floor(skip_rate * 20) / 20 + 0.05 as skip_rate_to,
    count(*) as user_count,
    sum(listens) as listens
from per_user
group by floor(skip_rate * 20) / 20
order by skip_rate_from
