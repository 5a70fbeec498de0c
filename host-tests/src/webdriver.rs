//! A real headless Chromium, driven through W3C WebDriver (Debian's `chromedriver`
//! from `chromium-driver`) over loopback HTTP: what a person does in a browser, for
//! the sign-in tests. Only the handful of commands those tests need.

use crate::http;
use crate::ports::free_port;
use base64::Engine;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile under `dir`.
    pub fn start(dir: &Path) -> Result<Browser, String> {
        let port = free_port().map_err(|e| e.to_string())?;
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start chromedriver (Debian: apt-get install chromium chromium-driver): {e}"))?;
        let mut browser = Browser { driver, port, session: String::new() };
        browser.wait_ready()?;
        let profile = dir.join("chromium-profile");
        let _ = std::fs::remove_dir_all(&profile);
        let args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--window-size=1400,1600", &format!("--user-data-dir={}", profile.display())];
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": chromium_binary(), "args": args}}}});
        let answer = browser.command("POST", "/session", Some(&capabilities))?;
        browser.session = answer["sessionId"].as_str().ok_or_else(|| format!("no session: {answer}"))?.to_owned();
        Ok(browser)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http::get(self.port, "/status", &[]).is_ok_and(|r| r.json()["value"]["ready"] == true) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("chromedriver did not become ready in 20 s".to_owned())
    }

    /// One WebDriver command; its `value`, or the WebDriver error.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let headers = [("content-type", "application/json")];
        let response = match body {
            Some(body) => http::post(self.port, path, &headers, body.to_string().as_bytes()),
            None => http::request(self.port, method, path, &[]),
        }
        .map_err(|e| format!("{method} {path}: {e}"))?;
        let answer = response.json();
        if response.status != 200 {
            return Err(format!("{method} {path}: {} {}", response.status, answer["value"]));
        }
        Ok(answer["value"].clone())
    }

    fn session_command(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url` in the current tab and waits for it to load (redirects followed).
    pub fn open(&self, url: &str) -> Result<(), String> {
        self.session_command("POST", "/url", Some(&json!({"url": url}))).map(|_| ())
    }

    /// The current tab's URL.
    pub fn url(&self) -> Result<String, String> {
        Ok(self.session_command("GET", "/url", None)?.as_str().unwrap_or_default().to_owned())
    }

    /// The text the current page shows.
    pub fn text(&self) -> Result<String, String> {
        Ok(self.script("return document.body ? document.body.innerText : '';", json!([]))?.as_str().unwrap_or_default().to_owned())
    }

    /// Clicks the element with this CSS selector, then waits until the page that
    /// follows has loaded.
    pub fn click(&self, selector: &str) -> Result<(), String> {
        let id = self.find(selector)?;
        self.session_command("POST", &format!("/element/{id}/click"), Some(&json!({})))?;
        self.wait_loaded()
    }

    fn wait_loaded(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.script("return document.readyState;", json!([]))? == "complete" {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("the page did not finish loading in 15 s".to_owned())
    }

    /// Runs `script` in the page (WebDriver "execute script"), with `args`.
    pub fn script(&self, script: &str, args: Value) -> Result<Value, String> {
        self.session_command("POST", "/execute/sync", Some(&json!({"script": script, "args": args})))
    }

    /// Runs `script` in the page and waits for it to call its last argument back.
    pub fn script_async(&self, script: &str) -> Result<Value, String> {
        self.session_command("POST", "/execute/async", Some(&json!({"script": script, "args": []})))
    }

    /// Opens a new tab and makes it current; returns its handle.
    pub fn new_tab(&self) -> Result<String, String> {
        let handle = self.session_command("POST", "/window/new", Some(&json!({"type": "tab"})))?["handle"].as_str().unwrap_or_default().to_owned();
        self.switch_to(&handle)?;
        Ok(handle)
    }

    /// The current tab's handle.
    pub fn tab(&self) -> Result<String, String> {
        Ok(self.session_command("GET", "/window", None)?.as_str().unwrap_or_default().to_owned())
    }

    pub fn switch_to(&self, handle: &str) -> Result<(), String> {
        self.session_command("POST", "/window", Some(&json!({"handle": handle}))).map(|_| ())
    }

    /// Gives the file input at `selector` the file at `path`, as a person choosing it
    /// would (WebDriver "element send keys" on a file input).
    pub fn upload(&self, selector: &str, path: &Path) -> Result<(), String> {
        let id = self.find(selector)?;
        self.session_command("POST", &format!("/element/{id}/value"), Some(&json!({"text": path.display().to_string()}))).map(|_| ())
    }

    /// A PNG of the window, the element at `selector` scrolled to its top. (Chromium's
    /// element screenshots misplace elements with rotated text.)
    pub fn screenshot(&self, selector: &str) -> Result<Vec<u8>, String> {
        self.script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'});", json!([selector]))?;
        let encoded = self.session_command("GET", "/screenshot", None)?;
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).map_err(|e| format!("screenshot: {e}"))
    }

    fn find(&self, selector: &str) -> Result<String, String> {
        let element = self.session_command("POST", "/element", Some(&json!({"using": "css selector", "value": selector})))?;
        element[ELEMENT].as_str().map(str::to_owned).ok_or_else(|| format!("no element {selector}"))
    }

    /// The names of the cookies the browser holds for the current page.
    pub fn cookie_names(&self) -> Result<Vec<String>, String> {
        let cookies = self.session_command("GET", "/cookie", None)?;
        Ok(cookies.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.command("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Debian installs Chromium at /usr/bin/chromium; `WSGATE_CHROMIUM` overrides it.
fn chromium_binary() -> String {
    std::env::var("WSGATE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}
