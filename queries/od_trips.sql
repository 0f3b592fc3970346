-- title: Trips between zones per average day
-- estimator: total
-- cells: observed
-- unit: trips/day
-- needs: persons, households, trips
-- y = the person's trips from zone o to zone d on the travel day: Σ w·y is the trips a day of the population the weights sum to (DOMAIN.md §2.1, totals). Zones from trip_zones; `outside` where an end has none, so the cells add up to all trips.
-- Only pairs someone travels between are reported (cells: observed).
SELECT person_id, origin_zone_id, dest_zone_id, purpose, distance_band(distance_km) AS distance_band, 1 AS y
FROM trip_zones
