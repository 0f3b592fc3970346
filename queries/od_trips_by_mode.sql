-- title: Trips between zones per average day, by mode
-- estimator: total
-- cells: observed
-- unit: trips/day
-- needs: persons, households, trips
-- As od_trips, by the trip's main mode (`unknown` where the survey has none, so the modes add
-- up to od_trips).
-- Only pairs someone travels between are reported (cells: observed).
SELECT person_id, COALESCE(mode, 'unknown') AS mode, origin_zone_id, dest_zone_id, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trip_zones
