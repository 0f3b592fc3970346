-- title: Trips produced per zone per average day
-- estimator: total
-- cells: observed
-- unit: trips/day
-- needs: persons, households, trips
-- Trip generation: y = the person's trips starting in the zone on the travel day (the origin
-- zone of trip_zones, `outside` where there is none); Σ w·y is trips a day. By purpose
-- through the purpose breakdown.
SELECT person_id, origin_zone_id AS zone_id, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trip_zones
