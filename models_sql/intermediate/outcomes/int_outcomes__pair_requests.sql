{#- One row per (decision_date, user_id, track_id) whose requests were answered by the pair's
    own nightly decision: how many, and how many were played through. -#}

with

requests as (

    select * from {{ ref('int_decision_requests') }}

),

final as (

    select
        decision_date,
        user_id,
        track_id,
        count(*) as requests,
        cast(sum(case when is_played_through then 1 else 0 end) as bigint) as played_through_requests
    from requests
    where answered_by = 'pair'
    group by decision_date, user_id, track_id

)

select * from final
