//! Phone numbers in E.164, with India (+91) as the default country.
//!
//! The rules are the original's OTP normalisation (upstream-api.md §4.8), applied everywhere a
//! phone enters the service, so an OTP row, a sign-up and a login agree on one form.

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not digits with an optional leading `+` (after removing spaces, `-`, `(` and `)`).
    #[error("Invalid phone number format")]
    InvalidFormat,
    /// Neither `+<country>...`, nor 10 digits, nor `91` followed by 10 digits.
    #[error("Phone number must include country code")]
    MissingCountryCode,
}

/// Normalises a phone number to E.164: `9000000001` → `+919000000001`.
pub fn normalize_phone(input: &str) -> Result<String, PhoneError> {
    let cleaned: String = input.chars().filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')')).collect();
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    let well_formed =
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if !well_formed {
        return Err(PhoneError::InvalidFormat);
    }
    if cleaned.starts_with('+') {
        return Ok(cleaned);
    }
    match cleaned.len() {
        12 if cleaned.starts_with("91") => Ok(format!("+{cleaned}")),
        10 => Ok(format!("+91{cleaned}")),
        _ => Err(PhoneError::MissingCountryCode),
    }
}

/// The forms a phone may be stored in: the E.164 form and, for accounts carried over from the
/// original (which stored phones as typed), the bare national and `91`-prefixed forms.
pub fn lookup_forms(input: &str) -> Vec<String> {
    let mut forms = vec![input.trim().to_owned()];
    if let Ok(e164) = normalize_phone(input) {
        if let Some(national) = e164.strip_prefix("+91") {
            forms.push(national.to_owned());
            forms.push(format!("91{national}"));
        }
        forms.push(e164);
    }
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_the_original() {
        assert_eq!(normalize_phone("9000000001").unwrap(), "+919000000001");
        assert_eq!(normalize_phone("919000000001").unwrap(), "+919000000001");
        assert_eq!(normalize_phone("+91 90000-00003").unwrap(), "+919000000003");
        assert_eq!(normalize_phone("+1 (555) 123-4567").unwrap(), "+15551234567");
        assert_eq!(normalize_phone("00919000000001"), Err(PhoneError::InvalidFormat));
        assert_eq!(normalize_phone("+0123"), Err(PhoneError::InvalidFormat));
        assert_eq!(normalize_phone("91900000000"), Err(PhoneError::MissingCountryCode));
        assert_eq!(normalize_phone("12345678901"), Err(PhoneError::MissingCountryCode));
        assert_eq!(normalize_phone(""), Err(PhoneError::InvalidFormat));
    }

    #[test]
    fn lookup_forms_cover_raw_and_normalised() {
        let forms = lookup_forms("9000000003");
        assert!(forms.contains(&"9000000003".to_owned()));
        assert!(forms.contains(&"+919000000003".to_owned()));
        assert!(forms.contains(&"919000000003".to_owned()));
    }
}
