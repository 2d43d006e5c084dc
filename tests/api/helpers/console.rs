//! A browser-like client of the web console over real HTTP: keeps its cookies, reads the CSRF
//! token out of pages, posts forms. Redirects are not followed, so tests see them.

use std::collections::BTreeMap;

use reqwest::{Response, StatusCode};

use super::{TestApp, accounts::PASSWORD};

/// One browser's view of the console.
pub struct ConsoleClient {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
    /// Cookies by name.
    pub cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` value seen, raw (to check flags).
    pub set_cookies: Vec<String>,
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field in the page") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

impl ConsoleClient {
    /// A client without cookies.
    pub fn new(app: &TestApp) -> Self {
        ConsoleClient {
            base: app.base.clone(),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn remember(&mut self, response: &Response) {
        for value in response.headers().get_all("set-cookie") {
            let raw = value.to_str().unwrap().to_owned();
            let (pair, attributes) = raw.split_once(';').unwrap_or((&raw, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.set_cookies.push(raw);
        }
    }

    /// A request with this client's cookies.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).header("cookie", self.cookie_header())
    }

    /// Sends a request built by [`Self::request`], remembering cookies.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// GET a page: status, `Location` and body.
    pub async fn get(&mut self, path: &str) -> (StatusCode, String, String) {
        let response = self.send(self.request(reqwest::Method::GET, path)).await;
        let status = response.status();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// POST a urlencoded form: status, `Location` and body.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
        let response = self.send(self.request(reqwest::Method::POST, path).form(form)).await;
        let status = response.status();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// The CSRF token of the page at `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        let (status, _, html) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {html}");
        csrf_of(&html)
    }

    /// Signs in with phone and the test password; panics unless it works.
    pub async fn sign_in(&mut self, phone: &str) {
        let token = self.csrf("/console/login").await;
        let (status, location, body) =
            self.post("/console/login", &[("csrf", &token), ("phone", phone), ("password", PASSWORD)]).await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(location, "/console/");
        assert!(self.cookies.contains_key("corpus_console"));
    }

    /// A signed-in client.
    pub async fn signed_in(app: &TestApp, phone: &str) -> Self {
        let mut client = Self::new(app);
        client.sign_in(phone).await;
        client
    }
}
