-- title: Trips attracted per zone per average day
-- estimator: total
-- cells: observed
-- unit: trips/day
-- needs: persons, households, trips
-- Trip attraction: y = the person's trips ending in the zone on the travel day (the
-- destination zone of trip_zones, `outside` where there is none); Σ w·y is trips a day. By
-- purpose through the purpose breakdown.
SELECT person_id, dest_zone_id AS zone_id, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trip_zones
