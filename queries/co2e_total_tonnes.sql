-- title: CO₂e per year from residents' daily travel, population total
-- estimator: total
-- unit: t CO₂e/year
-- needs: persons, households, trips, emission_factors, fleet_mix, occupancy
-- Σ w·y with y = 365 × the person's travel-day g CO₂e / 10⁶: tonnes per year for the
-- population the weights sum to, by mode.
SELECT t.person_id, t.mode, 365.0 * t.distance_km * f.g_per_pkm / 1000000.0 AS y
FROM trips t
JOIN mode_factors f ON f.mode = t.mode
WHERE t.distance_km IS NOT NULL
