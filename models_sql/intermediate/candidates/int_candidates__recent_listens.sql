{#- One row per listen in the var('candidate_recent_days') days before each night to decide
    for (macro decision_nights): the listens that rank recent tracks. Only listens before the
    night. -#}

with

listens as {{ not_materialized_cte() }} (

    select * from {{ ref('fct_listens') }}

),

nights as (

    {{ decision_nights('listens') }}

),

final as (

    select
        nights.decision_date,
        listens.user_id,
        listens.track_id
    from nights
    inner join listens
        on
            nights.decision_date > listens.listen_date
            and {{ add_days(-var('candidate_recent_days'), 'nights.decision_date') }} <= listens.listen_date

)

select * from final
