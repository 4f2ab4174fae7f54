{#- One row per (decision_date, track_id) whose requests were answered by the track's default:
    how many, how many were played through, how many found the track cached. -#}

with

requests as (

    select * from {{ ref('int_decision_requests') }}

),

final as (

    select
        decision_date,
        track_id,
        count(*) as requests,
        cast(sum(case when is_played_through then 1 else 0 end) as bigint) as played_through_requests,
        cast(sum(case when is_cached then 1 else 0 end) as bigint) as cached_requests
    from requests
    where answered_by = 'track_default'
    group by decision_date, track_id

)

select * from final
