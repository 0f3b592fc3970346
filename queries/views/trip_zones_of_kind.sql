-- trip_zones with the trip ends looked up among the zones of one kind (`mobility run
-- --od-zone-kind KIND`, the kind in the one-row table od_zone_kind): the zone of that kind
-- holding the end's coordinates, else the trip's own zone id where it is a zone of that kind
-- (a survey giving zone ids without coordinates), else `outside`.
CREATE OR REPLACE VIEW trip_zones AS
SELECT t.trip_id, t.person_id, t.mode, t.purpose, t.distance_km, t.depart_at,
  COALESCE(zone_of(t.origin_lon, t.origin_lat, k.kind), zo.zone_id, 'outside') AS origin_zone_id,
  COALESCE(zone_of(t.dest_lon, t.dest_lat, k.kind), zd.zone_id, 'outside') AS dest_zone_id
FROM trips t
CROSS JOIN od_zone_kind k
LEFT JOIN zones zo ON zo.kind = k.kind AND zo.zone_id = t.origin_zone_id
LEFT JOIN zones zd ON zd.kind = k.kind AND zd.zone_id = t.dest_zone_id
