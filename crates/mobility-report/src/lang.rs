//! The report's language: its words, mode names and numbers (bokmål or English).

use crate::svg::Decimal;

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Norwegian bokmål.
    #[default]
    Nb,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute of the page.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::En => "en",
        }
    }

    /// From `nb` or `en`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nb" | "no" => Some(Self::Nb),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The decimal mark of this language's numbers.
    pub fn decimal(self) -> Decimal {
        match self {
            Lang::Nb => Decimal::Comma,
            Lang::En => Decimal::Point,
        }
    }

    /// A number for people in this language ([`Decimal::num`]).
    pub fn num(self, v: f64, digits: usize) -> String {
        self.decimal().num(v, digits)
    }

    /// A category label that holds numbers (`2.5-5 km`) with this language's decimal mark.
    pub fn label(self, code: &str) -> String {
        if self.decimal() == Decimal::Point {
            return code.to_string();
        }
        let b = code.as_bytes();
        code.char_indices()
            .map(|(i, c)| {
                let digits_around = i > 0
                    && b[i - 1].is_ascii_digit()
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit);
                if c == '.' && digits_around { ',' } else { c }
            })
            .collect()
    }

    /// The text of `key` in this language (`?` for a key it does not know).
    pub fn t(self, key: &str) -> &'static str {
        match WORDS.iter().find(|w| w.0 == key) {
            Some(&(_, nb, en)) => match self {
                Lang::Nb => nb,
                Lang::En => en,
            },
            None => "?",
        }
    }
}

/// The report's words: (key, bokmål, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("title", "Mobilitet og utslipp", "Mobility and emissions"),
    ("targets", "Mål", "Targets"),
    (
        "undrawn",
        "Soner som ikke kunne tegnes (geometrien kan ikke leses)",
        "Zones not drawn (their geometry cannot be read)",
    ),
    ("target", "Mål", "Target"),
    ("measured", "Målt", "Measured"),
    ("ci", "95 % KI", "95 % CI"),
    ("gap", "Avvik", "Gap"),
    ("status", "Status", "Status"),
    ("year", "År", "Year"),
    ("travel", "Reisevaner", "Travel behaviour"),
    (
        "mode_trips",
        "Transportmiddelfordeling, andel av reiser",
        "Mode share of trips",
    ),
    (
        "mode_km",
        "Transportmiddelfordeling, andel av personkm",
        "Mode share of person-km",
    ),
    (
        "bands",
        "Reiser etter lengde og transportmiddel",
        "Trips by distance band and mode",
    ),
    ("emissions", "Utslipp", "Emissions"),
    (
        "road",
        "Vegtrafikk og innbyggernes reiser: hva hvert tall dekker",
        "Road traffic and residents' travel: what each figure covers",
    ),
    ("road_what", "Tall", "Figure"),
    ("road_value", "Per år", "Per year"),
    ("road_covers", "Dekker", "Covers"),
    (
        "road_vkm",
        "Kjøretøykm på trafikklenker med ÅDT",
        "Vehicle-km on traffic links with an AADT",
    ),
    (
        "road_co2e",
        "CO₂e fra disse kjøretøykm, t",
        "CO₂e of those vehicle-km, t",
    ),
    (
        "road_cover",
        "målte lenker: {len} % av lenkelengden, {links} % av lenkene; alle kjøretøy, også gjennomgangstrafikk",
        "measured links: {len} % of link length, {links} % of links; all vehicles, through traffic included",
    ),
    (
        "survey_vkm",
        "Innbyggernes bilkm som fører (reisevaneundersøkelsen)",
        "Residents' car-driver km (travel survey)",
    ),
    (
        "survey_co2e",
        "CO₂e fra innbyggernes bilkjøring, t (reisevaneundersøkelsen)",
        "CO₂e of residents' car driving, t (travel survey)",
    ),
    (
        "survey_cover",
        "bosatte i utvalgets populasjon, på alle veger, også utenfor kommunen",
        "residents of the survey's population, on every road, outside the municipality too",
    ),
    (
        "co2_mode",
        "CO₂e per innbygger og år etter transportmiddel",
        "CO₂e per resident and year by mode",
    ),
    (
        "scenario",
        "Scenario: korte bilturer til sykkel og gange",
        "Scenario: short car trips by bike and on foot",
    ),
    ("traffic", "Trafikk", "Traffic"),
    (
        "index",
        "Trafikkindeks (glidende, mot referanseåret), alle punkter, uoffisiell",
        "Traffic index (rolling, against the reference year), all points, unofficial",
    ),
    (
        "hourly",
        "Timeprofil på virkedager (uten helligdager), gjennomsnittlig trafikk per time",
        "Hourly profile on working days (public holidays left out), mean traffic per hour",
    ),
    (
        "weekday",
        "Ukedagsprofil, gjennomsnittlig døgntrafikk",
        "Weekday profile, mean daily traffic",
    ),
    (
        "map_zones",
        "Bærekraftig andel av reiser etter bostedssone",
        "Sustainable share of trips by home zone",
    ),
    (
        "map_points",
        "Tellepunkter etter ÅDT",
        "Counting points by AADT",
    ),
    (
        "flows",
        "Reisestrømmer mellom kommuner, reiser per gjennomsnittsdøgn",
        "Flows between municipalities, trips per average day",
    ),
    (
        "flow_map",
        "De største strømmene mellom kommuner (og utenfor)",
        "The largest flows between municipalities (and outside)",
    ),
    ("flow", "Strøm", "Flow"),
    ("trips_day", "Reiser per døgn", "Trips per day"),
    ("within", "innen", "within"),
    ("outside", "utenfor sonene", "outside the zones"),
    ("methods", "Metode og kilder", "Methods and sources"),
    (
        "no_data",
        "Ingen data for denne figuren i kjøringen.",
        "This run has no data for this chart.",
    ),
    (
        "suppressed",
        "* usikkert anslag (n < 50 eller CV > 0,3), vist blekt eller skravert",
        "* uncertain estimate (n < 50 or CV > 0.3), shown pale or hatched",
    ),
    ("inputs", "Inndata", "Inputs"),
    ("rows", "rader", "rows"),
    (
        "factors",
        "Utslippsfaktorer og kilder",
        "Emission factors and their sources",
    ),
    ("generated", "Laget av mobility", "Made by mobility"),
    ("baseline", "i dag", "today"),
    ("after", "med scenario", "with the scenario"),
    (
        "vkm",
        "Bil-km per innbygger og dag",
        "Car vehicle-km per resident and day",
    ),
    (
        "co2",
        "kg CO₂e per innbygger og år",
        "kg CO₂e per resident and year",
    ),
    (
        "est_text",
        "Alle reisevaneindikatorer er forholdstallsestimatorer over personer, R = Σ wᵢyᵢ / Σ wᵢxᵢ, der personer uten reiser teller med. Standardfeil er Taylor-lineariserte innenfor strata (personen er trekkenheten), konfidensintervall med t-fordeling; utslippene har standardfeil fra Rao–Wu-bootstrap. Celler med n < 50 eller CV > 0,3 er merket usikre.",
        "Every travel-survey indicator is a ratio estimator over persons, R = Σ wᵢyᵢ / Σ wᵢxᵢ, with persons without trips included. Standard errors are Taylor-linearised within strata (the person is the sampling unit), CIs use Student's t; the emissions' standard errors come from the Rao–Wu bootstrap. Cells with n < 50 or CV > 0.3 are flagged uncertain.",
    ),
    (
        "idx_text",
        "Trafikkindeksen følger Statens vegvesens metode: lette kjøretøy, timer med dekningsgrad ≥ 99 % matchet time for time mellom årene, områdeindeks vektet med basisvolum, med n_eff, standardavvik og konfidensintervall som i byindeksen. Glidende indeks bruker månedsdøgntrafikk (MDT) mot referanseåret. Tallene her er beregnet av mobility fra datakatalogens punkter og er ikke offisielle.",
        "The traffic index follows Statens vegvesen's method: light vehicles, hours with coverage ≥ 99 % matched hour for hour between the years, an area index weighted by base volume with n_eff, SD and CI as in the city index. The rolling index uses monthly daily traffic (MDT) against the reference year. The figures here are computed by mobility from the data directory's points and are not official.",
    ),
];

/// A mode code as people say it.
pub fn mode_label(lang: Lang, code: &str) -> String {
    let (nb, en) = match code {
        "walk" => ("gange", "walk"),
        "bike" => ("sykkel", "bike"),
        "car_driver" => ("bilfører", "car driver"),
        "car_passenger" => ("bilpassasjer", "car passenger"),
        "bus" => ("buss", "bus"),
        "tram" => ("trikk", "tram"),
        "metro" => ("T-bane", "metro"),
        "rail" => ("tog", "train"),
        "ferry" => ("ferje/båt", "ferry"),
        "taxi" => ("drosje", "taxi"),
        "motorcycle" => ("MC", "motorcycle"),
        "plane" => ("fly", "plane"),
        "other" => ("annet", "other"),
        c => (c, c),
    };
    (if lang == Lang::Nb { nb } else { en }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_labels_take_the_languages_decimal_mark() {
        assert_eq!(Lang::Nb.label("2.5-5 km"), "2,5-5 km");
        assert_eq!(Lang::Nb.label("<1 km"), "<1 km");
        assert_eq!(Lang::Nb.label("v.2. 5"), "v.2. 5");
        assert_eq!(Lang::En.label("2.5-5 km"), "2.5-5 km");
    }

    #[test]
    fn every_word_has_one_entry_in_both_languages() {
        let mut keys: Vec<&str> = WORDS.iter().map(|w| w.0).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), WORDS.len(), "a key written twice");
        assert!(WORDS.iter().all(|w| !w.1.is_empty() && !w.2.is_empty()));
        assert_eq!(Lang::En.t("no such key"), "?");
    }
}
