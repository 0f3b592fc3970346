-- title: Car vehicle-kilometres per person per day
-- estimator: mean
-- unit: vehicle-km/person/day
-- needs: persons, households, trips
-- y = the person's kilometres as car driver (one vehicle-km per driver-km, so no occupancy
-- is needed), x = 1 (DOMAIN.md §2.1).
SELECT person_id, purpose, distance_band(distance_km) AS distance_band, distance_km AS y
FROM trips
WHERE mode = 'car_driver'
