#!/usr/bin/env python3
"""An independent re-implementation of mobility's traffic-index indicators, and the fixture to
compare them on (tests/it/traffic_independent.rs).

    python3 tests/traffic/independent.py fixture OUT_DIR
        Writes a seeded, deterministic multi-year hourly fixture in the trafikkdata.no export
        format (ISO-8859-1, ';', decimal comma, '-' for missing; one .csv.gz per point and
        year under OUT_DIR/traffic/), a registration-point answer of the trafikkdata GraphQL
        API (OUT_DIR/points.json) and two municipalities (OUT_DIR/kommuner.geojson, properties
        kommunenummer/kommunenavn).

    python3 tests/traffic/independent.py expected FIXTURE_DIR OUT_DIR
        Reads the raw fixture files only (never mobility's code or tables) and writes
        OUT_DIR/traffic_index_rolling.csv, traffic_index_yearly.csv and nullvekst.csv with the
        key and value columns of `mobility run`.

Standard library only (Python >= 3.9: zoneinfo with the Europe/Oslo zone). Sources of the rules:
docs/traffic.md, ../shared/DOMAIN.md §2.3-2.5, and Statens vegvesen's code (snohan/byindeks:
index_calculation_functions.R `calculate_trp_index` at 08881a0 and 9e222c1, 2024-03 to 2026-02;
the HEAD version drops the 16-hour rule only for an hour-filtered Tromsø season index;
indexpoints_tidying_functions.R `filter_mdt` and `calculate_rolling_indices_by_mdt` at e1b8aa4).

The fixture (2020-2024, six points; see build_points): random missing hours (absent rows and
'-' rows), hours at 50/75/90 % coverage, hours with poor or missing length quality, lane and
direction rows beside `Totalt` for one point-year; days at exactly 95.0 % coverage; months of
low coverage, of poor MDT length quality and of days with daily length quality < 95 %; a point
whose reference year has exactly ten kept months and one with nine; 12-, 24- and 36-month
windows exactly at and just below 9, 20 and 31 values; a point starting in March 2021 (no
reference year, a 12-day first month); a point down May-Nov 2022; months with 16 and 15 days
of data; days with 14 matched hours; a point outside both municipalities and one missing from
points.json; DST days complete, and with one or two hours missing (22 of 23, 23 or 24 of 25).

With MIN_MATCHED_HOURS = 0 and COUNT_KEPT_MONTHS_ONLY = False this script follows the project's
documented rules instead, and then agrees with `mobility run` on every row.

Rules as implemented here (choices marked CHOICE; where the project's own docs differ from
Statens vegvesen's code, SVV is followed and the difference is named):

Days (traffic_daily): the `Totalt` rows only. An hour belongs to the local date (Europe/Oslo,
zoneinfo) of the instant in `Fra`. A day's volume is the sum of its hours' volumes ('-' adds
nothing); its coverage is min(100, sum of hourly coverage / the hours of the local day), the
hours of the day taken from zoneinfo as the UTC length of the local day (23 on the spring
change, 25 on the autumn change, both October 02:00 hours counted); its length quality is the
hours' length quality weighted by volume.

MDT (for the rolling index): per point and month over all days; light MDT = mean of the daily
light (< 5.6 m) volumes of days with coverage >= 95 % and length quality >= 95 %; length
coverage = sum of those days' coverage / days in the month; length quality = mean daily length
quality of the days with coverage >= 95 %. CHOICE (docs/traffic.md; SVV takes both from the
API, whose internals are not published): these definitions. The months of the points in the
rolling index stay well away from the 50 % and 98.5 % thresholds, so a volume-weighted length
quality would keep the same months.

Rolling index: MDTs kept with length coverage >= 50 and length quality >= 98.5; reference year
= the first year in which a point has ten kept months (the project's default); a point's
reference mean = the mean of its kept months in that year when there are >= 10; windows of 12,
24, 36 months ending from December of reference + 1, + 2, + 3 to the last month with a kept
MDT; in a window each calendar month is averaged, then the calendar months. For 36 months
calendar months with fewer than two values are dropped. RULE (SVV): the >= 9 / 20 / 31
requirement counts the values of the calendar months that are KEPT (SVV
calculate_rolling_indices_by_mdt: filter(n_months >= 2) and then sum(n_months) >= 31); see
COUNT_KEPT_MONTHS_ONLY. Area index over the points with both; rows only where >= 1 point.

Point index (yearly): light volumes of hours with coverage >= 99 and length quality >= 95;
base and calc year matched on local (month, day, hour), the two October 02:00 hours summed
first; days kept where the daily length quality (from all of the day's hours) is >= 95 in both
years AND (SVV) at least 16 hours were matched (calculate_trp_index: filter(n_hours >= 16,
ok_length == TRUE)); see MIN_MATCHED_HOURS. Months kept with >= 16 days; the point's index
over its kept months; `period` jan-<latest kept month of any point>.
SVV rounds hourly coverage and length quality and daily length quality to whole percent before
comparing (R's round(), half to even, as Python's round() is); point P3 has hours at exactly
98.5 % coverage (rounds to 98: dropped) and at 98.6 % (rounds to 99: kept).

Area index: R = sum calc / sum base, w = base / sum base, n_eff = 1 / sum w^2,
SD = 100 sqrt(sum w (r - R)^2 / (1 - 1/n_eff)), SE = SD / sqrt(n_eff),
CI = 100 (R - 1) -/+ t(0.975, n - 1) SE; one point has no SD/SE/CI.
Chained: per subset over its consecutive pairs in order, R = R1 R2,
Var = R1^2 Var2 + R2^2 Var1 + Var1 Var2, CI +/- 1.96 SE.

nullvekst: per subset, the rolling row with the longest window, then the latest last month.

Subsets: all points (every point with hourly rows); and per municipality polygon the points of
points.json that lie in it ("kommune <nummer> <navn>").
"""

import csv
import datetime as dt
import gzip
import json
import math
import os
import random
import sys
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)

# SVV's rules where the project's docs say otherwise (see the module docstring).
MIN_MATCHED_HOURS = 16
COUNT_KEPT_MONTHS_ONLY = True

MONTHS = ["jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "des"]

HEADER = (
    "Trafikkregistreringspunkt;Navn;Vegreferanse;Fra;Til;Dato;Fra tidspunkt;Til tidspunkt;Felt;"
    "Trafikkmengde;Dekningsgrad (%);Antall timer total;Antall timer inkludert;"
    "Antall timer ugyldig;Ikke gyldig lengde;Lengdekvalitetsgrad (%);< 5,6m;>= 5,6m;"
    "5,6m - 7,6m;7,6m - 12,5m;12,5m - 16,0m;>= 16,0m;16,0m - 24,0m;>= 24,0m"
)

# ---------------------------------------------------------------------------------------------
# Fixture
# ---------------------------------------------------------------------------------------------

FIRST_YEAR, LAST_YEAR = 2020, 2024

KOMMUNER = [
    # id, name, lon0, lat0, lon1, lat1
    ("9001", "Testby", 10.40, 59.88, 10.50, 59.94),
    ("9002", "Prøvdal", 10.55, 59.88, 10.65, 59.94),
]

PROFILE = [0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 3.5, 6.5, 7.0, 5.5, 5.0, 5.2,
           5.4, 5.6, 6.2, 7.2, 7.8, 7.0, 5.5, 4.2, 3.4, 2.8, 2.0, 1.2]
PROFILE = [p / sum(PROFILE) for p in PROFILE]
SEASON = [0.88, 0.92, 0.97, 1.0, 1.04, 1.05, 0.95, 1.0, 1.04, 1.03, 1.0, 0.94]
PEAK_HOURS = (7, 8, 15, 16, 17)


def d(s):
    return dt.date.fromisoformat(s)


def days_of(y, m, first=1, last=None):
    n = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.date(y, m, 1)).days
    return [dt.date(y, m, k) for k in range(first, (last or n) + 1)]


def dst_days(year):
    """The last Sundays of March and October (computed here only to place the fixture's
    designed defects; the expected values take each day's length from zoneinfo)."""
    def last_sunday(m):
        x = dt.date(year, m, 31)
        return x - dt.timedelta(days=(x.weekday() + 1) % 7)
    return last_sunday(3), last_sunday(10)


class Point:
    def __init__(self, trp, name, road, lon, lat, daily, growth, in_json=True, lanes=()):
        self.trp, self.name, self.road = trp, name, road
        self.lon, self.lat, self.daily, self.growth = lon, lat, daily, growth
        self.in_json = in_json
        self.lanes = set(lanes)          # years with lane and direction rows
        self.absent = set()              # dates without any row
        self.drop = {}                   # date -> {(hour, fold): 'absent' | 'dash'}
        self.partial = {}                # date -> {hour: coverage}
        self.poor_lq_months = set()      # (y, m): every hour at 96.5-97.5 % length quality
        self.bad_peak_days = set()       # dates: peak hours at ~80 % length quality
        self.exact = set()               # dates without random defects

    def month_absent(self, y, m, first=1, last=None):
        self.absent.update(days_of(y, m, first, last))

    def low_coverage(self, y, m, n_days):
        """n_days days of the month lose six night hours each (75 % coverage)."""
        for day in days_of(y, m)[:n_days]:
            self.drop[day] = {(h, 0): "absent" if h % 2 else "dash" for h in range(6)}
            self.exact.add(day)


def build_points():
    p1 = Point("10001V1001", "Bønsvegen", "FV101 S1D1 m100", 10.45, 59.90, 14000, -0.04,
               lanes=[2024])
    p2 = Point("10002V1002", "Sandvika øst", "FV102 S1D1 m200", 10.47, 59.91, 9000, -0.043)
    p3 = Point("10003V1003", "Åsveien", "KV1003 S1D1 m50", 10.60, 59.90, 6000, 0.04)
    p4 = Point("10004V1004", "Prøvdal bru", "FV104 S1D1 m900", 10.62, 59.92, 11000, 0.01)
    p5 = Point("10005V1005", "Utenfor", "EV18 S60D1 m4030", 10.80, 59.80, 7500, 0.06)
    p6 = Point("10006V1006", "Uten koordinater", "RV150 S1D1 m10", 10.70, 59.85, 5000, -0.02,
               in_json=False)
    pts = [p1, p2, p3, p4, p5, p6]

    # P1: complete DST days; two days at exactly 95.0 % coverage (six hours at 80 %); a month
    # with twelve days at 87.5 % (its MDT counts the other days); three days in 2023 with only
    # 14 hours at >= 99 % coverage (daily coverage 95.8 %: SVV drops them from the point index).
    for day in (d("2021-02-03"), d("2021-02-04")):
        p1.partial[day] = {h: 80.0 for h in (9, 10, 11, 12, 13, 14)}
        p1.exact.add(day)
    for day in days_of(2023, 4, 1, 12):
        p1.drop[day] = {(h, 0): "absent" for h in (1, 2, 3)}
        p1.exact.add(day)
    for day in (d("2023-05-09"), d("2023-05-10"), d("2023-05-11")):
        p1.partial[day] = {h: 90.0 for h in range(6, 16)}
        p1.exact.add(day)

    # P3: hours at the rounding edge of the point index's 99 % coverage rule: 98.5 % rounds
    # (half to even) to 98 and is dropped, 98.6 % rounds to 99 and is kept.
    for day, cov in (("2023-06-07", 98.5), ("2023-06-08", 98.6), ("2024-06-07", 98.6)):
        p3.partial[d(day)] = {h: cov for h in (10, 11, 12)}
        p3.exact.add(d(day))

    # P2: reference year with exactly ten kept months (February low coverage, November poor
    # length quality); June 2021 low coverage; Sept 2022 poor length quality; Oct 2022 with 20
    # days of daily length quality < 95 % from bad peak hours; Dec 2022 and Jan 2023 low
    # coverage: a 12-month window of 2022 has 9 values, Feb 2022-Jan 2023 has 8.
    p2.low_coverage(2020, 2, 18)
    p2.poor_lq_months.add((2020, 11))
    p2.low_coverage(2021, 6, 20)
    p2.poor_lq_months.add((2022, 9))
    p2.bad_peak_days.update(days_of(2022, 10, 1, 20))
    p2.low_coverage(2022, 12, 20)
    p2.low_coverage(2023, 1, 20)
    # A few isolated bad-peak days elsewhere: their hours pass the hourly filter, the day not.
    p2.bad_peak_days.update([d("2021-09-14"), d("2023-09-12"), d("2024-03-05")])

    # P3 starts late: nothing before 2021-03-20 (March 2021 has 12 days: < 16).
    p3.absent.update(dt.date(2020, 1, 1) + dt.timedelta(days=k)
                     for k in range((d("2021-03-20") - d("2020-01-01")).days))

    # P4: the counter is down May-Nov 2022 (breaks every 36-month window, and 12/24 ones).
    for m in range(5, 12):
        p4.month_absent(2022, m)

    # P5: months out of the rolling index: Jul 2021 and Aug 2023 absent, Jul 2022 low coverage,
    # Feb 2023 poor length quality, Mar 2023 bad peak days. 36-month windows ending Dec 2023 -
    # Jun 2024 then have 31 values with July only once.
    p5.month_absent(2021, 7)
    p5.low_coverage(2022, 7, 20)
    p5.poor_lq_months.add((2023, 2))
    p5.bad_peak_days.update(days_of(2023, 3, 1, 20))
    p5.month_absent(2023, 8)

    # P6 (not in points.json): reference year with nine kept months; months with 16, 16 and 15
    # days of data in 2023; two days with 14 matched hours.
    for m in (3, 5, 9):
        p6.low_coverage(2020, m, 20)
    p6.month_absent(2023, 6, 1, 14)
    p6.month_absent(2023, 7, 1, 15)
    p6.month_absent(2023, 9, 1, 15)
    for day in (d("2022-02-14"), d("2022-02-15")):
        p6.partial[day] = {h: 75.0 for h in range(8, 18)}
        p6.exact.add(day)

    # Daylight-saving days.
    for y in range(FIRST_YEAR, LAST_YEAR + 1):
        spring, autumn = dst_days(y)
        for p in pts:
            p.exact.update([spring, autumn])
        # 22 of 23 hours: 95.65 % (kept; 91.7 % if divided by 24).
        p2.drop[spring] = {(10, 0): "dash"}
        p6.drop[spring] = {(20, 0): "absent"}
        # 23 of 25 hours: 92 % (left out; 95.8 % if divided by 24).
        p2.drop[autumn] = {(11, 0): "absent", (12, 0): "absent"}
        p4.drop[autumn] = {(2, 1): "absent", (13, 0): "dash"}
        # 24 of 25 hours: 96 %.
        p5.drop[autumn] = {(2, 0): "absent"}
    return pts


def hours_of_fixture():
    start = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=OSLO).astimezone(UTC)
    end = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=OSLO).astimezone(UTC)
    out = []
    u = start
    while u < end:
        a, b = u.astimezone(OSLO), (u + HOUR).astimezone(OSLO)
        out.append((u, a, b))
        u += HOUR
    return out


def fmt_pct(v, decimals):
    return f"{v:.{decimals}f}".replace(".", ",")


def split_heavy(ge):
    c56 = round(ge * 0.45)
    c76 = round(ge * 0.30)
    c125 = round(ge * 0.10)
    c16 = ge - c56 - c76 - c125
    c1624 = round(c16 * 0.6)
    return [c56, c76, c125, c16, c1624, c16 - c1624]


def counts_row(vol, invalid, lq_text):
    """Trafikkmengde .. >= 24,0m fields (after Felt) except coverage and hour counts."""
    valid = vol - invalid
    ge = round(valid * 0.07)
    lt = valid - ge
    return vol, invalid, lq_text, lt, ge, split_heavy(ge)


def gen_point(p, hours, seed):
    rng = random.Random(seed)
    rows = {}  # local year -> list of lines
    for u, a, b in hours:
        day = a.date()
        if day in p.absent:
            continue
        r = [rng.random() for _ in range(6)]
        kind = p.drop.get(day, {}).get((a.hour, a.fold))
        if kind == "absent":
            continue
        if kind is None and day not in p.exact:
            if r[0] < 0.004:
                continue
            if r[0] < 0.008:
                kind = "dash"
        months = (a.year - FIRST_YEAR) * 12 + a.month - 1
        weekend = day.weekday() >= 5
        expected = (p.daily * PROFILE[a.hour] * SEASON[a.month - 1]
                    * (1 + p.growth) ** (months / 12) * (0.75 if weekend else 1.0))
        z = math.sqrt(-2 * math.log(1 - r[1])) * math.cos(2 * math.pi * r[2])
        vol = max(20, round(expected * math.exp(0.06 * z)))
        cov = 100.0
        if day in p.partial and a.hour in p.partial[day]:
            cov = p.partial[day][a.hour]
        elif day not in p.exact and kind is None and r[0] < 0.018:
            cov = (50.0, 75.0, 90.0)[int(r[3] * 3)]
        vol = max(1, round(vol * cov / 100)) if cov < 100 else vol
        lq_missing = False
        if (a.year, a.month) in p.poor_lq_months:
            invalid = math.floor(vol * (0.025 + 0.01 * r[4]))
        elif day in p.bad_peak_days and a.hour in PEAK_HOURS:
            invalid = round(vol * (0.18 + 0.04 * r[4]))
        elif day not in p.exact and 0.018 <= r[0] < 0.023:
            invalid = round(vol * (0.10 + 0.05 * r[4]))
        else:
            invalid = math.floor(vol * 0.008 * r[4]) if vol >= 100 else 0
            lq_missing = day not in p.exact and 0.023 <= r[0] < 0.025
        lq = 100.0 * (vol - invalid) / vol
        head = [p.trp, p.name, p.road, a.isoformat(timespec="minutes"),
                b.isoformat(timespec="minutes"), day.isoformat(),
                a.strftime("%H:%M"), b.strftime("%H:%M")]
        lines = rows.setdefault(a.year, [])
        if kind == "dash":
            tail = ["-", "0,0", "1", "1", "1", "-", "-"] + ["-"] * 8
            felts = ["1", "2", "Totalt i retning SANDVIKA", "Totalt i retning OSLO"] \
                if a.year in p.lanes else []
            for f in felts + ["Totalt"]:
                lines.append(";".join(head + [f] + tail))
            continue
        total = counts_row(vol, invalid, "-" if lq_missing else fmt_pct(lq, 2))
        parts = []
        if a.year in p.lanes:
            # Lane 1 carries 52 % of each class, lane 2 the rest; direction totals = lanes.
            v1 = [round(x * 0.52) for x in (total[3], *total[5])]
            i1 = round(invalid * 0.52)
            lane1 = (v1[0] + sum(v1[1:5]) + i1, i1, v1[0], sum(v1[1:5]), v1[1:])
            v2 = [x - y for x, y in zip((total[3], *total[5]), v1)]
            i2 = invalid - i1
            lane2 = (v2[0] + sum(v2[1:5]) + i2, i2, v2[0], sum(v2[1:5]), v2[1:])
            for felt, (lv, li, llt, lge, lcls) in (("1", lane1), ("2", lane2),
                                                    ("Totalt i retning SANDVIKA", lane1),
                                                    ("Totalt i retning OSLO", lane2)):
                llq = "-" if lq_missing or lv == 0 else fmt_pct(100.0 * (lv - li) / lv, 2)
                parts.append((felt, [str(lv), fmt_pct(cov, 1), "1", "1", "0",
                                     "-" if lq_missing else str(li), llq, str(llt), str(lge)]
                              + [str(c) for c in lcls]))
        tv, ti, tlq, tlt, tge, tcls = total
        parts.append(("Totalt", [str(tv), fmt_pct(cov, 1), "1", "1", "0",
                                 "-" if lq_missing else str(ti), tlq, str(tlt), str(tge)]
                      + [str(c) for c in tcls]))
        for felt, tail in parts:
            lines.append(";".join(head + [felt] + tail))
    return rows


def write_fixture(out):
    os.makedirs(os.path.join(out, "traffic"), exist_ok=True)
    pts = build_points()
    hours = hours_of_fixture()
    for k, p in enumerate(pts):
        for year, lines in sorted(gen_point(p, hours, 20240 + k).items()):
            path = os.path.join(out, "traffic", f"{p.trp}_{year}.csv.gz")
            text = HEADER + "\n" + "\n".join(lines) + "\n"
            with gzip.open(path, "wb", compresslevel=5) as f:
                f.write(text.encode("iso-8859-1"))
    answer = {"data": {"trafficRegistrationPoints": [
        {"id": p.trp, "name": p.name,
         "location": {"coordinates": {"latLon": {"lat": p.lat, "lon": p.lon}},
                      "roadReference": {"shortForm": p.road}}}
        for p in pts if p.in_json]}}
    with open(os.path.join(out, "points.json"), "w", encoding="utf-8") as f:
        json.dump(answer, f, ensure_ascii=False, indent=1)
    features = [{
        "type": "Feature",
        "properties": {"kommunenummer": k, "kommunenavn": n},
        "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1],
                                                         [x0, y1], [x0, y0]]]},
    } for k, n, x0, y0, x1, y1 in KOMMUNER]
    with open(os.path.join(out, "kommuner.geojson"), "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": features}, f, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Expected values, from the raw files
# ---------------------------------------------------------------------------------------------

def num(s, kind):
    s = s.strip()
    if s in ("-", ""):
        return None
    return kind(s.replace(",", "."))


def read_hours(fixture):
    """(trp, UTC instant) -> (local datetime, volume, coverage, length quality, light)."""
    folder = os.path.join(fixture, "traffic")
    hours = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".csv.gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        elif name.endswith(".csv"):
            with open(path, "rb") as f:
                raw = f.read()
        else:
            continue
        lines = raw.decode("iso-8859-1").splitlines()
        head = lines[0].split(";")
        col = {h: i for i, h in enumerate(head)}
        c_trp, c_from, c_felt = col["Trafikkregistreringspunkt"], col["Fra"], col["Felt"]
        c_vol, c_cov = col["Trafikkmengde"], col["Dekningsgrad (%)"]
        c_lq, c_lt = col["Lengdekvalitetsgrad (%)"], col["< 5,6m"]
        for line in lines[1:]:
            if not line.strip():
                continue
            f = line.split(";")
            if f[c_felt].strip() != "Totalt":
                continue
            instant = dt.datetime.fromisoformat(f[c_from].strip()).astimezone(UTC)
            key = (f[c_trp].strip(), instant)
            if key in hours:
                raise SystemExit(f"{name}: the hour {key} twice")
            hours[key] = (instant.astimezone(OSLO), num(f[c_vol], int), num(f[c_cov], float),
                          num(f[c_lq], float), num(f[c_lt], int))
    return hours


def hours_in_local_day(day):
    a = dt.datetime(day.year, day.month, day.day, tzinfo=OSLO).astimezone(UTC)
    nxt = day + dt.timedelta(days=1)
    b = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=OSLO).astimezone(UTC)
    return round((b - a).total_seconds() / 3600)


def daily(hours):
    """(trp, date) -> dict(volume, light, coverage, lq)."""
    acc = {}
    for (trp, _), (local, vol, cov, lq, lt) in hours.items():
        a = acc.setdefault((trp, local.date()), [None, None, 0.0, 0.0, None])
        if vol is not None:
            a[0] = (a[0] or 0) + vol
        if lt is not None:
            a[1] = (a[1] or 0) + lt
        a[2] += cov or 0.0
        if lq is not None and vol is not None:
            a[3] += lq * vol
            a[4] = (a[4] or 0) + vol
    out = {}
    for (trp, day), (vol, lt, cov, lqv, lqw) in acc.items():
        out[(trp, day)] = {
            "volume": vol,
            "light": lt,
            "coverage": min(100.0, cov / hours_in_local_day(day)),
            "lq": lqv / lqw if lqw else None,
        }
    return out


def days_in_month(y, m):
    return (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.date(y, m, 1)).days


def light_mdts(days):
    """(trp, year, month) -> light MDT of the months that pass the rolling-index filters."""
    groups = {}
    for (trp, day), v in days.items():
        groups.setdefault((trp, day.year, day.month), []).append(v)
    out = {}
    for (trp, y, m), vs in groups.items():
        counted = [v for v in vs if v["coverage"] >= 95]
        light = [v for v in counted if v["lq"] is not None and v["lq"] >= 95
                 and v["light"] is not None]
        if not light:
            continue
        mdt = sum(v["light"] for v in light) / len(light)
        length_coverage = sum(v["coverage"] for v in light) / days_in_month(y, m)
        lqs = [v["lq"] for v in counted if v["lq"] is not None]
        lq = sum(lqs) / len(lqs) if lqs else None
        if length_coverage >= 50 and lq is not None and lq >= 98.5:
            out[(trp, y, m)] = mdt
    return out


def t_two_sided_cdf(t, nu):
    """P(|T| < t) for Student's t with integer nu (closed form)."""
    theta = math.atan(t / math.sqrt(nu))
    s, c = math.sin(theta), math.cos(theta)
    if nu % 2 == 1:
        if nu == 1:
            return 2 * theta / math.pi
        term, total = 1.0, 1.0
        for k in range(1, (nu - 3) // 2 + 1):
            term *= c * c * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + s * c * total)
    term, total = 1.0, 1.0
    for k in range(1, (nu - 2) // 2 + 1):
        term *= c * c * (2 * k - 1) / (2 * k)
        total += term
    return s * total


def t975(nu):
    """t(0.975, nu) by bisection on the exact CDF."""
    nu = max(1, int(nu))
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if t_two_sided_cdf(mid, nu) < 0.95:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def area_index(pairs):
    """pairs: [(base, calc)] -> dict, or None without a point."""
    pairs = [(b, c) for b, c in pairs if b > 0]
    if not pairs:
        return None
    n = len(pairs)
    sb, sc = sum(b for b, _ in pairs), sum(c for _, c in pairs)
    r = sc / sb
    w = [b / sb for b, _ in pairs]
    n_eff = 1 / sum(x * x for x in w)
    index_p = 100 * (r - 1)
    sd = se = lo = hi = None
    if n >= 2:
        spread = sum(wj * (c / b - r) ** 2 for wj, (b, c) in zip(w, pairs))
        sd = 100 * math.sqrt(spread / (1 - 1 / n_eff))
        se = sd / math.sqrt(n_eff)
        t = t975(n - 1)
        lo, hi = index_p - t * se, index_p + t * se
    return {"index_p": index_p, "n_eff": n_eff, "sd_p": sd, "se_p": se,
            "ci_lower": lo, "ci_upper": hi, "n_trp": n}


def subsets(fixture, trps):
    with open(os.path.join(fixture, "points.json"), encoding="utf-8") as f:
        points = json.load(f)["data"]["trafficRegistrationPoints"]
    with open(os.path.join(fixture, "kommuner.geojson"), encoding="utf-8") as f:
        zones = json.load(f)["features"]

    def inside(x, y, ring):
        hit = False
        for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                hit = not hit
        return hit

    out = {"all points": set(trps)}
    for p in points:
        ll = p["location"]["coordinates"]["latLon"]
        for z in zones:
            if inside(ll["lon"], ll["lat"], z["geometry"]["coordinates"][0]):
                props = z["properties"]
                name = f"kommune {props['kommunenummer']} {props['kommunenavn']}"
                out.setdefault(name, set()).add(p["id"])
    return out


def window_mean(window, values):
    """values: [(calendar month, MDT)] of one point in one window."""
    need = {12: 9, 24: 20, 36: 31}[window]
    by_month = {}
    for m, v in values:
        by_month.setdefault(m, []).append(v)
    least = 2 if window == 36 else 1
    kept = {m: vs for m, vs in by_month.items() if len(vs) >= least}
    counted = sum(len(vs) for vs in kept.values()) if COUNT_KEPT_MONTHS_ONLY else len(values)
    if counted < need or not kept:
        return None
    means = [sum(kept[m]) / len(kept[m]) for m in sorted(kept)]
    return sum(means) / len(means)


def rolling(mdts, groups):
    # point -> month number (year*12 + month - 1) -> MDT
    series = {}
    for (trp, y, m), v in mdts.items():
        series.setdefault(trp, {})[y * 12 + m - 1] = v
    per_year = {}
    for trp, s in series.items():
        for k in s:
            per_year[(trp, k // 12)] = per_year.get((trp, k // 12), 0) + 1
    years = [y for (_, y), n in per_year.items() if n >= 10]
    if not years:
        return []
    ref = min(years)
    last = max(k for s in series.values() for k in s)
    rows = []
    for subset in sorted(groups):
        for window in (12, 24, 36):
            for end in range((ref + 1) * 12 + window - 1, last + 1):
                start = end - window + 1
                pairs = []
                for trp in sorted(groups[subset]):
                    s = series.get(trp, {})
                    ref_values = [s[k] for k in range(ref * 12, ref * 12 + 12) if k in s]
                    if len(ref_values) < 10:
                        continue
                    base = sum(ref_values) / len(ref_values)
                    calc = window_mean(window, [(k % 12 + 1, s[k])
                                                for k in range(start, end + 1) if k in s])
                    if calc is not None:
                        pairs.append((base, calc))
                a = area_index(pairs)
                if a is None:
                    continue
                label = lambda k: f"{MONTHS[k % 12]} {k // 12}"
                rows.append({
                    "subset": subset, "official": "false", "method": "classic",
                    "window": f"{window}_months", "reference_year": str(ref),
                    "last_month": f"{end // 12}-{end % 12 + 1:02d}-01",
                    "index_period": f"{ref} - ({label(start)} - {label(end)})",
                    **{k: a[k] for k in ("index_p", "n_eff", "sd_p", "se_p", "ci_lower",
                                         "ci_upper", "n_trp")},
                })
    return rows


def point_indices(hours, days):
    """(trp, base_year) -> (base volume, calc volume, last kept month)."""
    light = {}
    for (trp, _), (local, _vol, cov, lq, lt) in hours.items():
        if cov is None or round(cov) < 99 or lq is None or round(lq) < 95 or lt is None:
            continue
        key = (trp, local.year, local.month, local.day, local.hour)
        light[key] = light.get(key, 0) + lt  # the two October 02:00 hours are summed
    by_year = {}
    for (trp, y, m, dd, h), v in light.items():
        by_year.setdefault((trp, y), {})[(m, dd, h)] = v
    out = {}
    for (trp, y), base in by_year.items():
        calc = by_year.get((trp, y + 1))
        if calc is None:
            continue
        day_sums = {}
        for (m, dd, h), b in base.items():
            c = calc.get((m, dd, h))
            if c is None:
                continue
            s = day_sums.setdefault((m, dd), [0, 0, 0])
            s[0] += b
            s[1] += c
            s[2] += 1
        months = {}
        for (m, dd), (b, c, n_hours) in day_sums.items():
            qb = days.get((trp, dt.date(y, m, dd)), {}).get("lq")
            qc = days.get((trp, dt.date(y + 1, m, dd)), {}).get("lq")
            if (qb is None or qc is None or round(qb) < 95 or round(qc) < 95
                    or n_hours < MIN_MATCHED_HOURS):
                continue
            s = months.setdefault(m, [0, 0, 0])
            s[0] += b
            s[1] += c
            s[2] += 1
        kept = {m: s for m, s in months.items() if s[2] >= 16}
        if kept:
            out[(trp, y)] = (float(sum(s[0] for s in kept.values())),
                             float(sum(s[1] for s in kept.values())), max(kept))
    return out


def yearly(points, groups):
    rows = []
    for subset in sorted(groups):
        years = sorted({y for (trp, y) in points if trp in groups[subset]})
        chained = None  # (from, index_p, se_p)
        for y in years:
            members = [points[(trp, y)] for trp in sorted(groups[subset]) if (trp, y) in points]
            a = area_index([(b, c) for b, c, _ in members])
            last = max(m for _, _, m in members)
            if chained is None:
                chained = (y, a["index_p"], a["se_p"])
            else:
                r1, r2 = 1 + chained[1] / 100, 1 + a["index_p"] / 100
                se = None
                if chained[2] is not None and a["se_p"] is not None:
                    v1, v2 = (chained[2] / 100) ** 2, (a["se_p"] / 100) ** 2
                    se = 100 * math.sqrt(r1 * r1 * v2 + r2 * r2 * v1 + v1 * v2)
                chained = (chained[0], 100 * (r1 * r2 - 1), se)
            ci, cse = chained[1], chained[2]
            rows.append({
                "subset": subset, "official": "false",
                "base_year": str(y), "calc_year": str(y + 1),
                "period": f"jan-{MONTHS[last - 1]}", "chained_from": str(chained[0]),
                "method": "classic",
                **{k: a[k] for k in ("index_p", "n_eff", "sd_p", "se_p", "ci_lower",
                                     "ci_upper", "n_trp")},
                "chained_index_p": ci, "chained_se_p": cse,
                "chained_ci_lower": None if cse is None else ci - 1.96 * cse,
                "chained_ci_upper": None if cse is None else ci + 1.96 * cse,
            })
    return rows


def nullvekst(rolling_rows):
    best = {}
    for r in rolling_rows:
        k = (int(r["window"].split("_")[0]), r["last_month"])
        if r["subset"] not in best or k > best[r["subset"]][0]:
            best[r["subset"]] = (k, r)
    rows = []
    for subset in sorted(best):
        r = best[subset][1]
        lo, hi = r["ci_lower"], r["ci_upper"]
        if lo is None or hi is None:
            status = "no CI: fewer than two points"
        elif lo > 0:
            status = "growth: the CI lies above zero"
        elif hi < 0:
            status = "decline: the CI lies below zero"
        else:
            status = "no significant change: the CI contains zero"
        allp = subset == "all points"
        rows.append({
            "breakdown": "all" if allp else "kommune",
            "breakdown_value": None if allp else subset[len("kommune "):],
            "subset": subset, "official": "false", "window": r["window"],
            "last_month": r["last_month"], "index_period": r["index_period"],
            "estimate": r["index_p"], "se": r["se_p"], "ci_lower": lo, "ci_upper": hi,
            "n_trp": r["n_trp"], "status": status, "unit": "percent",
        })
    return rows


COLUMNS = {
    "traffic_index_yearly": ["subset", "official", "base_year", "calc_year", "period",
                             "chained_from", "method", "index_p", "n_eff", "sd_p", "se_p", "ci_lower",
                             "ci_upper", "n_trp", "chained_index_p", "chained_se_p",
                             "chained_ci_lower", "chained_ci_upper"],
    "traffic_index_rolling": ["subset", "official", "method", "window", "reference_year", "last_month",
                              "index_period", "index_p", "n_eff", "sd_p", "se_p", "ci_lower",
                              "ci_upper", "n_trp"],
    "nullvekst": ["breakdown", "breakdown_value", "subset", "official", "window",
                  "last_month", "index_period", "estimate", "se", "ci_lower", "ci_upper",
                  "n_trp", "status", "unit"],
}


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return str(v)


def write_expected(fixture, out):
    os.makedirs(out, exist_ok=True)
    hours = read_hours(fixture)
    days = daily(hours)
    groups = subsets(fixture, {trp for trp, _ in hours})
    roll = rolling(light_mdts(days), groups)
    tables = {
        "traffic_index_rolling": roll,
        "traffic_index_yearly": yearly(point_indices(hours, days), groups),
        "nullvekst": nullvekst(roll),
    }
    for name, rows in tables.items():
        with open(os.path.join(out, f"{name}.csv"), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS[name])
            for r in rows:
                w.writerow([cell(r[c]) for c in COLUMNS[name]])
        print(f"{name} {len(rows)}")


def main(argv):
    if len(argv) == 3 and argv[1] == "fixture":
        write_fixture(argv[2])
    elif len(argv) == 4 and argv[1] == "expected":
        write_expected(argv[2], argv[3])
    else:
        raise SystemExit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main(sys.argv)
