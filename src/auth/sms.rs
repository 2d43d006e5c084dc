//! Sending one-time codes by SMS: the original's Ozonetel form POST (with a real success check),
//! a generic JSON webhook, and a development-only provider that writes the code to the log.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::config::{Config, SmsProvider};

/// Why a code could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// No provider is configured.
    #[error("no SMS provider is configured")]
    NotConfigured,
    /// The provider could not be reached.
    #[error("SMS provider unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The provider answered, but not with a success.
    #[error("SMS provider refused the message (HTTP {status})")]
    Refused {
        /// HTTP status of the answer.
        status: u16,
    },
}

#[derive(Debug, Clone)]
struct Ozonetel {
    url: String,
    user_name: String,
    entity_id: String,
    template_id: String,
    api_key: secrecy::SecretString,
    sms_type: String,
    sender_id: String,
}

#[derive(Debug, Clone)]
enum Provider {
    None,
    Ozonetel(Ozonetel),
    Webhook(String),
    Log,
}

/// Sends SMS messages through the configured provider.
#[derive(Clone)]
pub struct SmsSender {
    provider: Provider,
    text: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for SmsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.provider {
            Provider::None => "none",
            Provider::Ozonetel(_) => "ozonetel",
            Provider::Webhook(_) => "webhook",
            Provider::Log => "log",
        };
        f.debug_struct("SmsSender").field("provider", &kind).finish_non_exhaustive()
    }
}

impl SmsSender {
    /// The sender the configuration asks for.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let provider = match config.sms_provider() {
            None => Provider::None,
            Some(SmsProvider::Ozonetel) => match config.otp.otp_service_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => Provider::Ozonetel(Ozonetel {
                    url: url.to_owned(),
                    user_name: config.otp.otp_user_name.clone(),
                    entity_id: config.otp.otp_entity_id.clone(),
                    template_id: config.otp.otp_template_id.clone(),
                    api_key: config.otp.otp_api_key.clone(),
                    sms_type: config.otp.otp_sms_type.clone(),
                    sender_id: config.otp.otp_sender_id.clone(),
                }),
                None => anyhow::bail!("OTP_PROVIDER=ozonetel needs OTP_SERVICE_URL"),
            },
            Some(SmsProvider::Webhook) => match config.otp.otp_webhook_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => Provider::Webhook(url.to_owned()),
                None => anyhow::bail!("OTP_PROVIDER=webhook needs OTP_WEBHOOK_URL"),
            },
            // Config::validate refuses the log provider outside development; this is a second lock.
            Some(SmsProvider::Log) if config.is_development() => Provider::Log,
            Some(SmsProvider::Log) => anyhow::bail!("OTP_PROVIDER=log is allowed only in development"),
        };
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build()?;
        Ok(Self { provider, text: config.otp.otp_sms_text.clone(), client })
    }

    /// Sends `code` to `phone` (E.164); returns the provider's reference for the message.
    pub async fn send_code(&self, phone: &str, code: &str) -> Result<Option<String>, SmsError> {
        let text = self.text.replace("{otp}", code);
        match &self.provider {
            Provider::None => Err(SmsError::NotConfigured),
            Provider::Log => {
                tracing::warn!(phone = %mask_phone(phone), code, "development SMS provider: one-time code");
                Ok(Some("logged".to_owned()))
            }
            Provider::Webhook(url) => {
                let response = self
                    .client
                    .post(url)
                    .json(&serde_json::json!({ "phone_number": phone, "message": text, "code": code }))
                    .send()
                    .await?;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if !status.is_success() {
                    return Err(SmsError::Refused { status: status.as_u16() });
                }
                Ok(Some(truncate(body.trim())).filter(|s| !s.is_empty()))
            }
            Provider::Ozonetel(o) => {
                let destination = phone.replace('+', "");
                let form = [
                    ("userName", o.user_name.as_str()),
                    ("entityId", o.entity_id.as_str()),
                    ("templateId", o.template_id.as_str()),
                    ("destinationNumber", destination.as_str()),
                    ("smsText", text.as_str()),
                    ("apiKey", o.api_key.expose_secret()),
                    ("smsType", o.sms_type.as_str()),
                    ("senderId", o.sender_id.as_str()),
                ];
                let response = self.client.post(&o.url).form(&form).send().await?;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                match ozonetel_reference(status.as_u16(), &body) {
                    Some(reference) => Ok(Some(reference)),
                    None => Err(SmsError::Refused { status: status.as_u16() }),
                }
            }
        }
    }
}

/// Reads an Ozonetel answer: the message reference on success, `None` on any failure.
///
/// Ozonetel answers `{"status":"success","message":"queued","refrenceID":"..."}` (sic) on success
/// and `{"status":"failure","message":"..."}` otherwise, both with HTTP 200. The original took any
/// 200 body longer than 5 characters as a success, so `ERROR: bad api key` passed.
pub fn ozonetel_reference(status: u16, body: &str) -> Option<String> {
    if !(200..300).contains(&status) {
        return None;
    }
    let body = body.trim();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) {
        let ok = map.get("status").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("success"));
        if !ok || map.contains_key("error") {
            return None;
        }
        let reference = ["refrenceID", "referenceID", "referenceId", "reference_id", "messageId", "id"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str().map(str::to_owned)));
        return Some(truncate(&reference.unwrap_or_else(|| body.to_owned())));
    }
    let lower = body.to_ascii_lowercase();
    let failure = ["error", "fail", "invalid", "denied", "unauthori", "forbidden", "exception", "insufficient"]
        .iter()
        .any(|w| lower.contains(w));
    (lower.contains("success") && !failure).then(|| truncate(body))
}

fn truncate(s: &str) -> String {
    s.chars().take(500).collect()
}

/// A phone number safe to log: country code and last two digits only (`+91********03`).
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head = if phone.starts_with('+') { 3 } else { 2 };
    chars.iter().enumerate().map(|(i, c)| if i < head || i >= chars.len() - 2 { *c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ozonetel_answers_are_read_strictly() {
        assert_eq!(
            ozonetel_reference(200, r#"{"status":"success","message":"queued","refrenceID":"abc-1"}"#).as_deref(),
            Some("abc-1")
        );
        assert!(ozonetel_reference(200, r#"{"status":"failure","message":"Invalid Apikey and UserName"}"#).is_none());
        assert!(ozonetel_reference(200, "ERROR: bad api key").is_none());
        assert!(ozonetel_reference(200, "fail").is_none());
        assert!(ozonetel_reference(500, r#"{"status":"success"}"#).is_none());
        assert_eq!(ozonetel_reference(200, "Success: sent").as_deref(), Some("Success: sent"));
    }

    #[test]
    fn masks_phone_numbers() {
        assert_eq!(mask_phone("+919000000003"), "+91********03");
        assert_eq!(mask_phone("9000000003"), "90******03");
    }
}
