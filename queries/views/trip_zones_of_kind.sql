-- trip_zones with the trip ends looked up among the zones of one kind (`mobility run
-- --od-zone-kind KIND`, the kind in the one-row table od_zone_kind): an end without
-- coordinates, or outside every zone of the kind, is `outside`.
CREATE OR REPLACE VIEW trip_zones AS
SELECT t.trip_id,
  COALESCE(zone_of(t.origin_lon, t.origin_lat, k.kind), 'outside') AS origin_zone_id,
  COALESCE(zone_of(t.dest_lon, t.dest_lat, k.kind), 'outside') AS dest_zone_id
FROM trips t
CROSS JOIN od_zone_kind k
