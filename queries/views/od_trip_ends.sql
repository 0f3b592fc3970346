-- Trips with the zones of their ends (trip_zones) and the period of the day they start in,
-- from the table od_periods (period, from_hour, to_hour; by default `morning_peak` 06:00–08:59
-- and `afternoon_peak` 15:00–17:59, `mobility run --od-periods` sets others); `other` when the
-- local departure hour is in no period or unknown.
CREATE OR REPLACE VIEW od_trip_ends AS
SELECT z.trip_id, z.person_id, z.mode, z.purpose, z.distance_km,
  z.origin_zone_id, z.dest_zone_id,
  COALESCE(p.period, 'other') AS period
FROM trip_zones z
LEFT JOIN od_periods p
  ON date_part('hour', z.depart_at) >= p.from_hour AND date_part('hour', z.depart_at) < p.to_hour
