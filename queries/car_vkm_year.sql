-- title: Car vehicle-kilometres per year, population total
-- estimator: total
-- unit: vehicle-km/year
-- needs: persons, households, trips
-- Σ w·y with y = 365 × the person's car-driver km on the travel day: the annual vehicle-km
-- of the population the weights sum to (DOMAIN.md §2.1, annual totals).
SELECT person_id, 365.0 * distance_km AS y
FROM trips
WHERE mode = 'car_driver'
