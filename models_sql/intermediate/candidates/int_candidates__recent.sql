{#- Candidates of the first priority: the tracks an active user listened to recently. -#}

with

recent_listens as (

    select * from {{ ref('int_candidates__recent_listens') }}

),

active_users as (

    select * from {{ ref('int_candidates__active_users') }}

),

final as (

    select
        recent_listens.decision_date,
        recent_listens.user_id,
        recent_listens.track_id,
        1 as source_priority,
        'recent' as candidate_source
    from recent_listens
    inner join active_users
        on
            recent_listens.decision_date = active_users.decision_date
            and recent_listens.user_id = active_users.user_id

)

select * from final
