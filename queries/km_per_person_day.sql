-- title: Kilometres per person per day
-- estimator: mean
-- unit: km/person/day
-- needs: persons, households, trips
-- y = the person's trip kilometres on the travel day, x = 1 (DOMAIN.md §2.1).
SELECT person_id, purpose, distance_band(distance_km) AS distance_band, distance_km AS y
FROM trips
