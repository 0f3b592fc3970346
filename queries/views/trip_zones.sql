-- The zone of each trip's ends for the origin–destination indicators: the trips' own zone ids
-- (from the survey, or filled by point-in-polygon on ingest), `outside` where a trip end has
-- none, so the cells of a matrix add up to all trips. `mobility run --od-zone-kind KIND`
-- replaces this view by one that looks the ends up among the zones of that kind
-- (`zone_of(lon, lat, KIND)`; an end without coordinates or outside them is `outside`).
-- It carries the trip columns the matrices need, so `od_trip_ends` reads it without joining
-- trips to itself (a hash join of every trip that was half of each matrix's query).
CREATE OR REPLACE VIEW trip_zones AS
SELECT trip_id, person_id, mode, purpose, distance_km, depart_at,
  COALESCE(origin_zone_id, 'outside') AS origin_zone_id,
  COALESCE(dest_zone_id, 'outside') AS dest_zone_id
FROM trips
