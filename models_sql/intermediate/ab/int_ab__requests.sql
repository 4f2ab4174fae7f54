{#- The requests of the A/B period: every request with an arm (a listen on a decided night)
    from var('ab_start_date') to var('ab_end_date'), every night with outcomes when null. -#}

with

requests as (

    select * from {{ ref('int_decision_requests') }}

),

final as (

    select * from requests
    where
        arm is not null
        and decision_date >= {{ period_bound('ab_start_date', "'0001-01-01'") }}
        and decision_date <= {{ period_bound('ab_end_date', "'9999-12-31'") }}

)

select * from final
