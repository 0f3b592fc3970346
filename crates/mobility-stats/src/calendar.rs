//! Norway's public holidays (helligdager and 1 and 17 May), computed: the fixed days and the
//! ones that move with Easter, whose date is given by the Gregorian computus (the "anonymous
//! Gregorian algorithm", Meeus, *Astronomical Algorithms*, ch. 8). Lov om helligdager og
//! helligdagsfred (1995) § 2 lists them; 1 and 17 May are public holidays by lov om 1. og
//! 17. mai som høgtidsdagar (1947).
//!
//! ```
//! use chrono::NaiveDate;
//! use mobility_stats::calendar::{easter_sunday, is_holiday};
//! assert_eq!(easter_sunday(2024), NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
//! // May 2024: Labour Day, Ascension Day, Constitution Day, Whit Monday (and Whit Sunday).
//! let may: Vec<u32> = (1..=31).filter(|&d| is_holiday(NaiveDate::from_ymd_opt(2024, 5, d).unwrap())).collect();
//! assert_eq!(may, [1, 9, 17, 19, 20]);
//! ```

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday of a Gregorian year.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let (month, day) = computus(year);
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("the computus gives a date")
}

/// The month and day of Easter Sunday.
fn computus(year: i32) -> (i32, i32) {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    (month, day)
}

/// The public holidays of a year, in date order, with their Norwegian names.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).expect("a fixed date");
    let easter = easter_sunday(year);
    let from_easter = |days: i64| {
        if days >= 0 {
            easter + Days::new(days as u64)
        } else {
            easter - Days::new(days.unsigned_abs())
        }
    };
    let mut out = vec![
        (fixed(1, 1), "1. nyttårsdag"),
        (from_easter(-3), "Skjærtorsdag"),
        (from_easter(-2), "Langfredag"),
        (easter, "1. påskedag"),
        (from_easter(1), "2. påskedag"),
        (fixed(5, 1), "Offentlig høytidsdag"),
        (fixed(5, 17), "Grunnlovsdag"),
        (from_easter(39), "Kristi himmelfartsdag"),
        (from_easter(49), "1. pinsedag"),
        (from_easter(50), "2. pinsedag"),
        (fixed(12, 25), "1. juledag"),
        (fixed(12, 26), "2. juledag"),
    ];
    out.sort();
    out
}

/// Whether a date is a public holiday: one of [`holidays`], found by its day of the year or
/// its distance from Easter without building the year's list (the survey's person frame asks
/// once per person).
pub fn is_holiday(date: NaiveDate) -> bool {
    if matches!(
        (date.month(), date.day()),
        (1, 1) | (5, 1) | (5, 17) | (12, 25) | (12, 26)
    ) {
        return true;
    }
    let from_easter = date.ordinal() as i32 - easter_ordinal(date.year());
    matches!(from_easter, -3 | -2 | 0 | 1 | 39 | 49 | 50)
}

/// The day of the year (1 = 1 January) of Easter Sunday, without building a date.
fn easter_ordinal(year: i32) -> i32 {
    let (month, day) = computus(year);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    // 1 March is day 60 (61 in a leap year); Easter falls in March or April.
    let march_1 = 60 + i32::from(leap);
    march_1 + day - 1 + if month == 4 { 31 } else { 0 }
}

/// Norway's public holidays and a municipality's own extra days off (e.g. 24 and 31 December
/// where the kommune treats them as holidays), as `mobility.toml`'s `holidays` gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    extra: std::collections::BTreeSet<NaiveDate>,
}

impl Calendar {
    /// The national holidays and `extra`.
    pub fn with_extra(extra: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            extra: extra.into_iter().collect(),
        }
    }

    /// The national holidays and the days of a list such as `2024-12-24, 2024-12-31`
    /// (`mobility.toml`'s `holidays`); `Err` names the first value that is not a date.
    pub fn parse_extra(list: &str) -> Result<Self, String> {
        let mut extra = Vec::new();
        for v in list.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) => extra.push(d),
                Err(_) => return Err(format!("'{v}' is not a date like 2024-12-24")),
            }
        }
        Ok(Self::with_extra(extra))
    }

    /// Whether a date is a holiday: national, or one of the extra days.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.extra.contains(&date) || is_holiday(date)
    }

    /// [`day_type`] with the extra days as holidays.
    pub fn day_type(&self, date: NaiveDate) -> &'static str {
        if self.is_holiday(date) {
            "holiday"
        } else if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            "weekend"
        } else {
            "weekday"
        }
    }
}

/// The day type the traffic figures are split by: `holiday` (a public holiday, whatever the
/// weekday), `weekend` (Saturday, Sunday) or `weekday`.
pub fn day_type(date: NaiveDate) -> &'static str {
    if is_holiday(date) {
        "holiday"
    } else if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        "weekend"
    } else {
        "weekday"
    }
}

/// The class of a day in Statens vegvesen's calendar-adjusted MDT (the 2027 byindeks method,
/// `snohan/byindeks` calendar_effects.R / calendar_functions.R at e1b8aa4d, DOMAIN.md §2.3):
/// `easter` (the Friday before Palm Sunday to Easter Monday, 11 days) and `whitsun` (the Friday
/// before Whit Sunday to Whit Monday, 4 days), periods of their own; `non_working` (Saturday,
/// Sunday, and that code's holiday list outside those periods: 1 January, 1 May, 17 May,
/// Ascension Day, 24, 25, 26 and 31 December); `working` every other day.
pub fn svv_day_class(date: NaiveDate) -> &'static str {
    let easter = easter_sunday(date.year());
    let offset = (date - easter).num_days();
    if (-9..=1).contains(&offset) {
        return "easter";
    }
    if (47..=50).contains(&offset) {
        return "whitsun";
    }
    let (m, d) = (date.month(), date.day());
    let fixed = matches!((m, d), (1, 1) | (5, 1) | (5, 17) | (12, 24..=26) | (12, 31));
    if fixed || offset == 39 || matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        "non_working"
    } else {
        "working"
    }
}

/// Statens vegvesen's weight of the working days in each month's calendar-adjusted MDT
/// (January to December): the average share of working days, 2016–2100, with the Easter and
/// Whitsun days taken out of their months (DOMAIN.md §2.3, from `snohan/byindeks`
/// calendar_effects.R: working days 21.41, 20.18, 19.70, 16.88, 18.57, 20.65, 22.14, 22.14,
/// 21.44, 22.13, 21.44, 19.31 against 9.59, 8.07, 7.46, 5.96, 9.93, 7.85, 8.86, 8.86, 8.56,
/// 8.87, 8.56, 11.69 non-working).
pub const WORKING_DAY_WEIGHTS: [f64; 12] = [
    0.6906, 0.7143, 0.7253, 0.7391, 0.6516, 0.7246, 0.7142, 0.7142, 0.7147, 0.7139, 0.7147, 0.6229,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svv_day_classes_of_may_2024_and_easter_2024() {
        let d = |m: u32, day: u32| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
        let may: Vec<&str> = (1..=31).map(|day| svv_day_class(d(5, day))).collect();
        let count = |c: &str| may.iter().filter(|&&x| x == c).count();
        // Whitsun 17–20 May; 1 and 9 May (Ascension) and six weekend days non-working.
        assert_eq!(
            (count("working"), count("non_working"), count("whitsun")),
            (19, 8, 4)
        );
        // Easter Sunday 31 March 2024: the period runs from Friday 22 March to 1 April.
        assert_eq!(svv_day_class(d(3, 21)), "working");
        assert_eq!(svv_day_class(d(3, 22)), "easter");
        assert_eq!(svv_day_class(d(4, 1)), "easter");
        assert_eq!(svv_day_class(d(4, 2)), "working");
        assert_eq!(svv_day_class(d(12, 24)), "non_working");
        // The weights are working days / all days of the published averages.
        let work = [
            21.41, 20.18, 19.70, 16.88, 18.57, 20.65, 22.14, 22.14, 21.44, 22.13, 21.44, 19.31,
        ];
        let off = [
            9.59, 8.07, 7.46, 5.96, 9.93, 7.85, 8.86, 8.86, 8.56, 8.87, 8.56, 11.69,
        ];
        for m in 0..12 {
            let w = work[m] / (work[m] + off[m]);
            assert!(
                (w - WORKING_DAY_WEIGHTS[m]).abs() < 5e-4,
                "month {}: {w}",
                m + 1
            );
        }
    }

    /// Easter Sundays from the Church of Norway's tables (and every almanac).
    #[test]
    fn easter_sundays() {
        for (y, m, d) in [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2038, 4, 25),
        ] {
            assert_eq!(
                easter_sunday(y),
                NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                "{y}"
            );
        }
    }

    #[test]
    fn is_holiday_agrees_with_the_list_of_each_year() {
        for year in 1900..=2100 {
            let list = holidays(year);
            let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
            while d.year() == year {
                assert_eq!(is_holiday(d), list.iter().any(|(h, _)| *h == d), "{d}");
                d = d.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn twelve_holidays_a_year_and_day_types() {
        assert_eq!(holidays(2030).len(), 12);
        let d = |m, dd| NaiveDate::from_ymd_opt(2024, m, dd).unwrap();
        assert_eq!(day_type(d(5, 17)), "holiday");
        assert_eq!(day_type(d(5, 18)), "weekend");
        assert_eq!(day_type(d(5, 21)), "weekday");
        assert_eq!(day_type(d(3, 28)), "holiday");
    }
}
