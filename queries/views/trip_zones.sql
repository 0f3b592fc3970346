-- The zone of each trip's ends for the origin–destination indicators: the trips' own zone ids
-- (from the survey, or filled by point-in-polygon on ingest), `outside` where a trip end has
-- none, so the cells of a matrix add up to all trips. `mobility run --od-zone-kind KIND`
-- replaces this view by one that looks the ends up among the zones of that kind
-- (`zone_of(lon, lat, KIND)`; an end without coordinates or outside them is `outside`).
CREATE OR REPLACE VIEW trip_zones AS
SELECT trip_id,
  COALESCE(origin_zone_id, 'outside') AS origin_zone_id,
  COALESCE(dest_zone_id, 'outside') AS dest_zone_id
FROM trips
