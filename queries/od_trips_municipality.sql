-- title: Trips between municipalities per average day
-- estimator: total
-- cells: observed
-- unit: trips/day
-- needs: persons, households, trips, zones
-- As od_trips, with each trip end in its municipality (the zone of kind `kommune` holding its
-- coordinates, or its own zone id where that is a municipality's), `outside` where neither:
-- the flows within, into and out of the municipality that report.html shows.
SELECT t.person_id,
  COALESCE(zone_of(t.origin_lon, t.origin_lat, 'kommune'), ko.zone_id, 'outside') AS origin_zone_id,
  COALESCE(zone_of(t.dest_lon, t.dest_lat, 'kommune'), kd.zone_id, 'outside') AS dest_zone_id,
  t.purpose, distance_band(t.distance_km) AS distance_band, 1 AS y
FROM trips t
LEFT JOIN zones ko ON ko.kind = 'kommune' AND ko.zone_id = t.origin_zone_id
LEFT JOIN zones kd ON kd.kind = 'kommune' AND kd.zone_id = t.dest_zone_id
