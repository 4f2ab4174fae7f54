{#- One row per night to decide for and user with a listen in the var('candidate_active_days')
    days before it: the users who get candidates that night. -#}

with

listens as {{ not_materialized_cte() }} (

    select * from {{ ref('fct_listens') }}

),

nights as (

    {{ decision_nights('listens') }}

),

final as (

    select distinct
        nights.decision_date,
        listens.user_id
    from nights
    inner join listens
        on
            nights.decision_date > listens.listen_date
            and {{ add_days(-var('candidate_active_days'), 'nights.decision_date') }} <= listens.listen_date

)

select * from final
