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

/// A phone number in E.164 (`+919000000001`), parsed once where it enters the service.
///
/// Only [`Phone::parse`] makes one, so holding a `Phone` means holding a well-formed number;
/// it is stored and bound as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number as people type it: `9000000001`, `919000000001`, `+91 90000-00001`,
    /// `+1 (555) 123-4567` (spaces, `-`, `(` and `)` are dropped; 10 digits mean India).
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let cleaned: String = input.chars().filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')')).collect();
        let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
        let well_formed =
            (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if !well_formed {
            return Err(PhoneError::InvalidFormat);
        }
        if cleaned.starts_with('+') {
            return Ok(Self(cleaned));
        }
        match cleaned.len() {
            12 if cleaned.starts_with("91") => Ok(Self(format!("+{cleaned}"))),
            10 => Ok(Self(format!("+91{cleaned}"))),
            _ => Err(PhoneError::MissingCountryCode),
        }
    }

    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalises a phone number to E.164: `9000000001` → `+919000000001` (same as [`Phone::parse`]).
pub fn normalize_phone(input: &str) -> Result<Phone, PhoneError> {
    Phone::parse(input)
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl sqlx::Type<sqlx::Postgres> for Phone {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Phone {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<'_, sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

/// A phone number given to find an account by: as typed, and its E.164 form when it is one.
///
/// Accounts made here store E.164; accounts carried over from the original store the phone as it
/// was typed (`9000000003`, `919000000003`, or anything at all). A lookup therefore matches the
/// E.164 form, the national and `91`-prefixed forms, and the text as typed, and prefers an exact
/// E.164 match. Text that is no phone number still finds an account stored with exactly that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneLookup {
    typed: String,
    e164: Option<Phone>,
}

impl PhoneLookup {
    /// A lookup for text as someone typed it.
    pub fn typed(input: &str) -> Self {
        Self { typed: input.trim().to_owned(), e164: Phone::parse(input).ok() }
    }

    /// The E.164 form, when the text is a phone number.
    pub fn e164(&self) -> Option<&Phone> {
        self.e164.as_ref()
    }

    /// What designates the account (e.g. to count failed logins against): the E.164 form when
    /// the text is a phone number, else the text as typed (trimmed), which only an account
    /// carried over with that exact text can have.
    pub fn key(&self) -> &str {
        self.e164.as_ref().map_or(&self.typed, Phone::as_str)
    }

    /// Every stored form that designates this phone: as typed (trimmed) and, for a phone number,
    /// E.164 and (for India) the bare national and `91`-prefixed forms.
    pub fn forms(&self) -> Vec<String> {
        let mut forms = vec![self.typed.clone()];
        if let Some(e164) = &self.e164 {
            if let Some(national) = e164.as_str().strip_prefix("+91") {
                forms.push(national.to_owned());
                forms.push(format!("91{national}"));
            }
            forms.push(e164.as_str().to_owned());
        }
        forms.sort();
        forms.dedup();
        forms
    }
}

impl From<&Phone> for PhoneLookup {
    fn from(phone: &Phone) -> Self {
        Self { typed: phone.as_str().to_owned(), e164: Some(phone.clone()) }
    }
}

impl From<&str> for PhoneLookup {
    fn from(input: &str) -> Self {
        Self::typed(input)
    }
}

impl From<&String> for PhoneLookup {
    fn from(input: &String) -> Self {
        Self::typed(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_the_original() {
        let e164 = |input: &str| normalize_phone(input).map(|p| p.to_string());
        assert_eq!(e164("9000000001").unwrap(), "+919000000001");
        assert_eq!(e164("919000000001").unwrap(), "+919000000001");
        assert_eq!(e164("+91 90000-00003").unwrap(), "+919000000003");
        assert_eq!(e164("+1 (555) 123-4567").unwrap(), "+15551234567");
        assert_eq!(normalize_phone("00919000000001"), Err(PhoneError::InvalidFormat));
        assert_eq!(normalize_phone("+0123"), Err(PhoneError::InvalidFormat));
        assert_eq!(normalize_phone("91900000000"), Err(PhoneError::MissingCountryCode));
        assert_eq!(normalize_phone("12345678901"), Err(PhoneError::MissingCountryCode));
        assert_eq!(normalize_phone(""), Err(PhoneError::InvalidFormat));
    }

    #[test]
    fn lookup_forms_cover_raw_and_normalised() {
        let lookup = PhoneLookup::typed(" 9000000003 ");
        assert_eq!(lookup.forms(), ["+919000000003", "9000000003", "919000000003"]);
        assert_eq!(lookup.key(), "+919000000003");
        assert_eq!(PhoneLookup::from(&Phone::parse("+15551234567").unwrap()).forms(), ["+15551234567"]);
        // Text that is no phone number is looked up, and counted, as typed: never as a number.
        let legacy = PhoneLookup::typed(" not-a-phone ");
        assert_eq!(
            (legacy.forms(), legacy.key(), legacy.e164()),
            (vec!["not-a-phone".to_owned()], "not-a-phone", None)
        );
    }
}
