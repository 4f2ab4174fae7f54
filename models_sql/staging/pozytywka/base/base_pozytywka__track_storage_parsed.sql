{#-
    Every non-blank line of track_storage.jsonl, parsed, with `quarantine_reason` null for a
    good row. storage_class is lower-cased; only slow / medium / fast are accepted.
-#}

with

raw_lines as (

    {{ landed_lines_to_parse('track_storage', ref('base_pozytywka__landed_lines')) }}

),

fields as (

    {{ landed_json_lines('raw_lines', ['track_id', 'storage_class', 'daily_cost']) }}

),

typed as (

    select
        *,
        {{ json_text('track_id_json') }} as track_id,
        lower({{ json_text('storage_class_json') }}) as storage_class,
        {{ json_double('daily_cost_json') }} as daily_cost
    from fields

),

judged_rows as (

    select
        *,
        case
            {{ line_level_reasons() }}
            when
                {{ json_is_missing('track_id_json') }}
                or track_id is null and {{ json_type_is('track_id_json', 'VARCHAR') }}
                then 'null_track_id'
            when track_id is null then 'bad_type_track_id'
            when {{ json_is_missing('storage_class_json') }} then 'null_storage_class'
            when storage_class not in ('slow', 'medium', 'fast') or storage_class is null then 'unknown_storage_class'
            when {{ json_is_missing('daily_cost_json') }} then 'null_daily_cost'
            when daily_cost is null or daily_cost < 0 then 'bad_daily_cost'
        end as row_reason
    from typed

),

judged as (

    select
        *,
        {{ first_occurrence_reason('row_reason', 'track_id', 'duplicate_track_id') }} as quarantine_reason
    from judged_rows

),

final as (

    select
        source_file,
        file_signature,
        line_number,
        quarantine_reason,
        {{ quarantine_raw_line() }} as raw_line,
        track_id,
        storage_class,
        daily_cost
    from judged

)

select * from final
