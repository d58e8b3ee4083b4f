//! Resource quantities (`500m`, `1Gi`, `1e3`) compared by value, as Kubernetes compares them.
//!
//! The API server stores a Deployment's template with every quantity parsed and rounded up to
//! milli-units, and the deployment controller compares templates with semantic equality,
//! where `1`, `1000m` and `0.001k` are the same number. A MiniDeployment's template is kept
//! as written, so the controller needs the same notion of "the same quantity", and the CLI
//! prints quantities as the API server would have stored them (`1024Mi` → `1Gi`).

/// How a quantity was written, which decides how its canonical form is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    DecimalSi,
    DecimalExponent,
    BinarySi,
}

/// A quantity's exact value, `mantissa × 10^exponent` with `mantissa` not divisible by 10
/// (or zero with exponent 0), so that equal values have equal representations; and the
/// format it was written in. Equality is equality of value.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        (self.mantissa, self.exponent) == (other.mantissa, other.exponent)
    }
}

impl Eq for Quantity {}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

const DECIMAL_SUFFIXES: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

impl Quantity {
    /// Parses the Kubernetes quantity syntax: a signed decimal number and an optional suffix,
    /// binary (`Ki` … `Ei`), decimal (`n u m k M G T P E`) or an exponent (`e3`, `E-2`).
    /// None for anything else, or for a value too large to hold exactly.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let number_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(number_end);
        let (negative, digits) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if (whole.is_empty() && fraction.is_empty())
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(b - b'0'))?;
        }
        let mut exponent = -i32::try_from(fraction.len()).ok()?;
        let format = if let Some(power) = BINARY_SUFFIXES[1..].iter().position(|b| *b == suffix) {
            mantissa = mantissa.checked_mul(1024i128.checked_pow(power as u32 + 1)?)?;
            Format::BinarySi
        } else if let Some((_, power)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
            exponent += power;
            Format::DecimalSi
        } else {
            let power = suffix.strip_prefix(['e', 'E'])?;
            if power.is_empty() || power == "-" || power == "+" {
                return None;
            }
            exponent += power.parse::<i32>().ok()?;
            Format::DecimalExponent
        };
        if negative {
            mantissa = -mantissa;
        }
        // Nothing finer than nano-units is kept: the API server rounds up.
        if exponent < -9 {
            let divisor = 10i128
                .checked_pow((-9 - exponent) as u32)
                .unwrap_or(i128::MAX);
            mantissa = ceil_div(mantissa, divisor);
            exponent = -9;
        }
        Some(
            Self {
                mantissa,
                exponent,
                format,
            }
            .reduced(),
        )
    }

    /// The value as `mantissa × 10^exponent`.
    pub fn value(self) -> (i128, i32) {
        (self.mantissa, self.exponent)
    }

    /// A spelling of the value alone, the same for equal values whatever the format.
    pub fn value_key(self) -> String {
        format!("{}e{}", self.mantissa, self.exponent)
    }

    /// The value in units of `10^scale`, rounded up (Go's `ScaledValue`): `value_in(0)` is
    /// `Value()`, `value_in(-3)` is `MilliValue()`. Saturates at the i64 bounds.
    pub fn value_in(self, scale: i32) -> i64 {
        let shift = self.exponent - scale;
        let scaled = if shift >= 0 {
            10i128
                .checked_pow(shift as u32)
                .and_then(|f| self.mantissa.checked_mul(f))
                .unwrap_or(if self.mantissa < 0 {
                    i128::MIN
                } else {
                    i128::MAX
                })
        } else {
            match 10i128.checked_pow((-shift) as u32) {
                Some(divisor) => ceil_div(self.mantissa, divisor),
                None => i128::from(self.mantissa > 0),
            }
        };
        scaled.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Rounded up to whole milli-units, as the API server rounds resource lists
    /// (`SetDefaults_ResourceList`: `RoundUp(-3)`).
    pub fn rounded_up_to_milli(self) -> Self {
        if self.exponent >= -3 {
            return self;
        }
        let divisor = 10i128.checked_pow((-3 - self.exponent) as u32);
        let mantissa = match divisor {
            Some(divisor) => ceil_div(self.mantissa, divisor),
            // So small that it rounds up to one milli-unit (or to zero if negative).
            None => i128::from(self.mantissa > 0),
        };
        Self {
            mantissa,
            exponent: -3,
            format: self.format,
        }
        .reduced()
    }

    /// The canonical form the API server stores and prints (`resource.Quantity`'s `String`):
    /// `1000m` → `1`, `0.5` → `500m`, `1024Mi` → `1Gi`, `1e3` kept in exponent form.
    pub fn canonical(self) -> String {
        let (mut mantissa, mut exponent) = (self.mantissa, self.exponent);
        if self.format == Format::BinarySi && exponent >= 0 {
            let whole = 10i128
                .checked_pow(exponent as u32)
                .and_then(|p| mantissa.checked_mul(p));
            if let Some(mut value) = whole.filter(|v| v.abs() >= 1024) {
                let mut power = 0;
                while value % 1024 == 0 && power < BINARY_SUFFIXES.len() - 1 {
                    value /= 1024;
                    power += 1;
                }
                return format!("{value}{}", BINARY_SUFFIXES[power]);
            }
        }
        if mantissa == 0 {
            return "0".into();
        }
        // Decimal suffixes step by 10³: move the exponent down to a multiple of 3.
        let extra = exponent.rem_euclid(3);
        match mantissa.checked_mul(10i128.pow(extra as u32)) {
            Some(scaled) => {
                mantissa = scaled;
                exponent -= extra;
            }
            None => return format!("{mantissa}e{exponent}"),
        }
        let suffix = match self.format {
            Format::DecimalExponent if exponent == 0 => String::new(),
            Format::DecimalExponent => format!("e{exponent}"),
            _ => DECIMAL_SUFFIXES
                .iter()
                .find(|(_, e)| *e == exponent)
                .map_or_else(|| format!("e{exponent}"), |(s, _)| (*s).to_owned()),
        };
        format!("{mantissa}{suffix}")
    }

    fn reduced(mut self) -> Self {
        if self.mantissa == 0 {
            self.exponent = 0;
            return self;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        self
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b) + i128::from(a.rem_euclid(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_values_round_up_as_go_does() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("1").value_in(-3), 1000);
        assert_eq!(q("100m").value_in(-3), 100);
        assert_eq!(q("1.5").value_in(0), 2);
        assert_eq!(q("1Gi").value_in(0), 1 << 30);
        assert_eq!(q("1n").value_in(-3), 1);
        assert_eq!(q("1e3").value_in(0), 1000);
        assert_eq!(q("200M").value_in(0), 200_000_000);
        assert_eq!(q("1E").value_in(-3), i64::MAX);
    }

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|| panic!("{text} parses"))
    }

    #[test]
    fn equal_values_in_any_spelling_are_equal() {
        for (a, b) in [
            ("1", "1000m"),
            ("1000", "1e3"),
            ("0.5", "500m"),
            ("1Gi", "1024Mi"),
            ("1Ki", "1024"),
            ("1k", "1000"),
            ("1M", "1e6"),
            ("1.5Gi", "1536Mi"),
            ("0", "0Gi"),
            ("+2", "2"),
            ("100M", "0.1G"),
            ("1E", "1e18"),
            (".5", "0.5"),
        ] {
            assert_eq!(q(a), q(b), "{a} = {b}");
        }
        assert_ne!(q("1"), q("1001m"));
        assert_ne!(q("1G"), q("1Gi"));
        assert_ne!(q("-1"), q("1"));
    }

    #[test]
    fn resource_lists_round_up_to_milli_units() {
        assert_eq!(q("0.0001").rounded_up_to_milli(), q("1m"));
        assert_eq!(q("1.0001").rounded_up_to_milli(), q("1001m"));
        assert_eq!(q("100n").rounded_up_to_milli(), q("1m"));
        assert_eq!(q("2").rounded_up_to_milli(), q("2"));
        assert_eq!(q("-0.0001").rounded_up_to_milli(), q("0"));
        assert_eq!(q("1e-40").rounded_up_to_milli(), q("1m"));
        assert_eq!(q("0.1n"), q("1n"), "finer than nano rounds up");
    }

    #[test]
    fn quantities_print_in_canonical_form() {
        for (written, canonical) in [
            ("1", "1"),
            ("1000m", "1"),
            ("100m", "100m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1000", "1k"),
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("0.5Gi", "512Mi"),
            ("512", "512"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("0.1n", "1n"),
            ("64M", "64M"),
        ] {
            assert_eq!(q(written).canonical(), canonical, "{written}");
        }
    }

    #[test]
    fn anything_else_is_not_a_quantity() {
        for text in ["", "abc", "1Xi", "1..2", "e3", "1e", "--1", "1 Gi", "."] {
            assert_eq!(Quantity::parse(text), None, "{text:?}");
        }
    }
}
