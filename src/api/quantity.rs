//! Resource quantities (`500m`, `1Gi`, `1e3`) compared by value, as Kubernetes compares them.
//!
//! The API server stores a Deployment's template with every quantity parsed and rounded up to
//! milli-units, and the deployment controller compares templates with semantic equality,
//! where `1`, `1000m` and `1e3m` are the same number. A MiniDeployment's template is kept as
//! written, so the controller needs the same notion of "the same quantity". Only the value
//! matters here, not the canonical spelling, so a quantity is reduced to an exact decimal
//! `digits × 10^exponent` with no trailing zeros in `digits`.

/// A quantity's exact value, `mantissa × 10^exponent`, with `mantissa` not divisible by 10
/// (or zero with exponent 0), so that equal values have equal representations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
}

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
        let binary_power = match suffix {
            "Ki" => 1,
            "Mi" => 2,
            "Gi" => 3,
            "Ti" => 4,
            "Pi" => 5,
            "Ei" => 6,
            _ => 0,
        };
        if binary_power > 0 {
            mantissa = mantissa.checked_mul(1024i128.checked_pow(binary_power)?)?;
        } else {
            exponent += match suffix {
                "n" => -9,
                "u" => -6,
                "m" => -3,
                "" => 0,
                "k" => 3,
                "M" => 6,
                "G" => 9,
                "T" => 12,
                "P" => 15,
                "E" => 18,
                _ => {
                    let power = suffix.strip_prefix(['e', 'E'])?;
                    if power.is_empty() || power == "-" || power == "+" {
                        return None;
                    }
                    power.parse::<i32>().ok()?
                }
            };
        }
        if negative {
            mantissa = -mantissa;
        }
        Some(Self { mantissa, exponent }.reduced())
    }

    /// Rounded up to whole milli-units, as the API server rounds resource lists
    /// (`SetDefaults_ResourceList`: `RoundUp(-3)`).
    pub fn rounded_up_to_milli(self) -> Self {
        if self.exponent >= -3 {
            return self;
        }
        let divisor = 10i128.checked_pow((-3 - self.exponent) as u32);
        let Some(divisor) = divisor else {
            // So small that it rounds up to one milli-unit (or down to zero if negative).
            let milli = if self.mantissa > 0 { 1 } else { 0 };
            return Self {
                mantissa: milli,
                exponent: -3,
            }
            .reduced();
        };
        let quotient = self.mantissa.div_euclid(divisor);
        let rounded = if self.mantissa.rem_euclid(divisor) == 0 {
            quotient
        } else {
            quotient + 1
        };
        Self {
            mantissa: rounded,
            exponent: -3,
        }
        .reduced()
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

impl std::fmt::Display for Quantity {
    /// `mantissa` `e` `exponent`: one spelling per value (not the API server's canonical
    /// spelling, which nothing here needs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}e{}", self.mantissa, self.exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn anything_else_is_not_a_quantity() {
        for text in ["", "abc", "1Xi", "1..2", "e3", "1e", "--1", "1 Gi", "."] {
            assert_eq!(Quantity::parse(text), None, "{text:?}");
        }
    }
}
