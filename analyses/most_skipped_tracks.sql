-- The tracks most often skipped (at least 20 listens), with their skip rate and genres.
-- Compile with `dbt compile --select most_skipped_tracks`, run the SQL in target/compiled/.
select
    tracks.track_id,
    tracks.track_name,
    count(*) as listens,
    sum(case when listens.is_skipped then 1 else 0 end) as skips,
    avg(case when listens.is_skipped then 1.0 else 0.0 end) as skip_rate
from {{ ref('fct_listens') }} as listens
inner join {{ ref('dim_tracks') }} as tracks
    on listens.track_id = tracks.track_id
group by tracks.track_id, tracks.track_name
having count(*) >= 20
order by skips desc, skip_rate desc
limit 50
