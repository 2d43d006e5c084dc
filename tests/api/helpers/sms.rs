//! A fake SMS gateway on a loopback port: records every request (form or JSON) and answers what
//! the test tells it to, so OTP flows run end to end without a real provider.

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use corpus_te::config::{Config, SmsProvider};

/// One request the gateway received.
#[derive(Debug, Clone)]
pub struct SmsRequest {
    /// `Content-Type` of the request.
    pub content_type: String,
    /// Form fields (form bodies) or top-level string fields (JSON bodies).
    pub fields: Vec<(String, String)>,
}

impl SmsRequest {
    /// The value of `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<SmsRequest>,
    reply: Option<(u16, String)>,
}

/// The fake gateway.
#[derive(Clone)]
pub struct FakeSms {
    /// Its URL.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

/// Ozonetel's success answer.
pub const OZONETEL_OK: &str = r#"{"status":"success","message":"queued","refrenceID":"ref-123"}"#;

impl FakeSms {
    /// Starts a gateway answering Ozonetel's success JSON.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().route("/", post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, inner }
    }

    /// Makes the gateway answer `status` with `body` from now on.
    pub fn reply_with(&self, status: u16, body: &str) {
        self.inner.lock().unwrap().reply = Some((status, body.to_owned()));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<SmsRequest> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The 6-digit code in the last message to `phone` (E.164).
    pub fn last_code(&self, phone: &str) -> String {
        let digits = phone.trim_start_matches('+');
        let request = self
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.field("destinationNumber") == Some(digits) || r.field("phone_number") == Some(phone))
            .unwrap_or_else(|| panic!("no SMS sent to {phone}"));
        let text = request.field("smsText").or(request.field("message")).unwrap_or_default().to_owned();
        text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).expect("a 6-digit code in the SMS").to_owned()
    }

    /// Points `config` at this gateway as the Ozonetel provider.
    pub fn configure_ozonetel(&self, config: &mut Config) {
        config.otp.otp_provider = Some(SmsProvider::Ozonetel);
        config.otp.otp_service_url = Some(self.url.clone());
        config.otp.otp_user_name = "corpus-user".into();
        config.otp.otp_entity_id = "entity-1".into();
        config.otp.otp_template_id = "template-1".into();
        config.otp.otp_api_key = "api-key-1".into();
        config.otp.otp_sms_type = "0".into();
        config.otp.otp_sender_id = "SWECHA".into();
        config.otp.otp_sms_text = "Your OTP is {otp}. Valid for 5 minutes.".into();
    }

    /// Points `config` at this gateway as the webhook provider.
    pub fn configure_webhook(&self, config: &mut Config) {
        config.otp.otp_provider = Some(SmsProvider::Webhook);
        config.otp.otp_webhook_url = Some(self.url.clone());
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let fields: Vec<(String, String)> = if content_type.starts_with("application/json") {
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        value
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default()
    } else {
        form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    };
    let mut inner = inner.lock().unwrap();
    inner.requests.push(SmsRequest { content_type, fields });
    let (status, body) = inner.reply.clone().unwrap_or((200, OZONETEL_OK.to_owned()));
    (axum::http::StatusCode::from_u16(status).unwrap(), body)
}
