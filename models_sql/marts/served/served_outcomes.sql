{#-
    One row per served answer with what its user did with its track on the answer's night:
    the user's listens of the track (fct_listens) with listen_date = the answer's
    decision_date. served_at is an instant in UTC while listens are on the export's wall clock
    without a zone, so the two are not compared: an answer is for its snapshot's night, and
    every listen of the pair that day counts, before or after the answer. Listens are not
    shared out: two answers for the same pair and night both see all its listens.
-#}

with

answers as (

    select * from {{ ref('served_answers') }}

),

listens as (

    select * from {{ ref('fct_listens') }}

),

answer_nights as (

    select distinct decision_date from answers

),

pair_listens as (

    select
        listens.user_id,
        listens.track_id,
        listens.listen_date,
        count(*) as listens,
        {{ count_where('not listens.is_skipped') }} as played_through_listens,
        {{ count_where('listens.is_skipped') }} as skipped_listens
    from listens
    inner join answer_nights
        on listens.listen_date = answer_nights.decision_date
    group by listens.user_id, listens.track_id, listens.listen_date

),

export_dates as (

    select
        min(listen_date) as first_listen_date,
        max(listen_date) as last_listen_date
    from listens

),

matched as (

    select
        answers.*,
        coalesce(pair_listens.listens, 0) as listens,
        coalesce(pair_listens.played_through_listens, 0) as played_through_listens,
        coalesce(pair_listens.skipped_listens, 0) as skipped_listens,
        coalesce(
            answers.decision_date between export_dates.first_listen_date and export_dates.last_listen_date, false
        ) as is_night_in_export
    from answers
    cross join export_dates
    left join pair_listens
        on
            answers.user_id = pair_listens.user_id
            and answers.track_id = pair_listens.track_id
            and answers.decision_date = pair_listens.listen_date

),

judged as (

    select
        *,
        case
            when played_through_listens > 0 then 'played_through'
            when listens > 0 then 'skipped'
            else 'not_played'
        end as outcome
    from matched

),

final as (

    select
        served_answer_id,
        decision_date,
        served_at,
        endpoint,
        arm,
        policy,
        answer_source,
        user_id,
        track_id,
        p_play,
        should_cache,
        listens,
        played_through_listens,
        skipped_listens,
        outcome,
        listens > 0 as is_listened,
        should_cache and listens > 0 as is_cache_hit,
        case when listens > 0 then should_cache = (outcome = 'played_through') end as is_correct,
        should_cache and outcome = 'skipped' as is_cached_but_skipped,
        should_cache and outcome = 'not_played' as is_cached_never_played,
        is_night_in_export
    from judged

)

select * from final
