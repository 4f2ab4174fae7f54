with

parsed_storage as (

    select * from {{ ref('base_pozytywka__track_storage_parsed') }}

),

tracks as (

    select * from {{ ref('base_pozytywka__tracks_parsed') }}
    where quarantine_reason is null

),

good_storage as (

    select * from parsed_storage
    where quarantine_reason is null

),

final as (

    select
        good_storage.track_id,
        good_storage.storage_class,
        good_storage.daily_cost,
        tracks.track_id is null as is_orphan_track,
        good_storage.source_file,
        good_storage.line_number
    from good_storage
    left join tracks
        on good_storage.track_id = tracks.track_id

)

select * from final
