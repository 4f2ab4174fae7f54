{#-
    One row per (decision_date, endpoint, arm): what the service answered for a night and what
    became of those answers (served_outcomes). The sibling of ab_daily_summary, which measures
    the nightly decisions over every listen; this one measures what was actually served. An
    answer "met a listen" when its user listened to its track on its night; accuracy and the
    cache figures are over those answers (the seed's metric, per served answer).
-#}

with

outcomes as (

    select * from {{ ref('served_outcomes') }}

),

counted as (

    select
        decision_date,
        endpoint,
        arm,
        count(*) as answers,
        count(distinct user_id) as user_count,
        {%- for source in ['pair', 'model', 'cold_start', 'track_default'] %}
            {{ count_where("answer_source = '" ~ source ~ "'") }} as {{ source }}_answers,
        {%- endfor %}
        {{ count_where('should_cache') }} as cached_answers,
        {{ count_where('is_listened') }} as listened_answers,
        {{ count_where("outcome = 'played_through'") }} as played_through_answers,
        {{ count_where("outcome = 'skipped'") }} as skipped_answers,
        {{ count_where("outcome = 'not_played'") }} as not_played_answers,
        {{ count_where('is_correct') }} as correct_answers,
        {{ count_where('is_cache_hit') }} as cache_hits,
        {{ count_where("is_cache_hit and outcome = 'played_through'") }} as cache_hits_played_through,
        {{ count_where('is_cached_but_skipped') }} as cached_but_skipped_answers,
        {{ count_where('is_cached_never_played') }} as cached_never_played_answers,
        bool_and(is_night_in_export) as is_night_in_export
    from outcomes
    group by decision_date, endpoint, arm

),

final as (

    select
        decision_date,
        endpoint,
        arm,
        answers,
        user_count,
        pair_answers,
        model_answers,
        cold_start_answers,
        track_default_answers,
        cached_answers,
        listened_answers,
        played_through_answers,
        skipped_answers,
        not_played_answers,
        cast(correct_answers as double) / nullif(listened_answers, 0) as accuracy,
        cache_hits,
        cast(cache_hits as double) / nullif(listened_answers, 0) as cache_hit_rate,
        cast(cache_hits_played_through as double) / nullif(cache_hits, 0) as cache_precision,
        cached_but_skipped_answers,
        cached_never_played_answers,
        is_night_in_export
    from counted

)

select * from final
