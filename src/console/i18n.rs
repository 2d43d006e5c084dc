//! Every string the console shows, in English and Telugu, in one table. Pages ask for a string by
//! key; a missing key shows the key itself (and a unit test checks every key has both languages).

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Telugu (the default: the corpus's contributors).
    #[default]
    Te,
    /// English.
    En,
}

impl Lang {
    /// The cookie value and `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Te => "te",
            Lang::En => "en",
        }
    }

    /// Parses a cookie value or query parameter.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "te" => Some(Lang::Te),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (the switch link).
    pub fn other(self) -> Self {
        match self {
            Lang::Te => Lang::En,
            Lang::En => Lang::Te,
        }
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Te => "తెలుగు",
            Lang::En => "English",
        }
    }
}

/// Strings of one language, handed to templates.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    /// The string for `key`.
    pub fn t(&self, key: &str) -> &'static str {
        match STRINGS.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, te)) => match self.0 {
                Lang::En => en,
                Lang::Te => te,
            },
            None => "?",
        }
    }
}

/// (key, English, Telugu).
const STRINGS: &[(&str, &str, &str)] = &[
    ("app", "Telugu corpus", "తెలుగు కార్పస్"),
    ("sign_in", "Sign in", "ప్రవేశించండి"),
    ("sign_out", "Sign out", "నిష్క్రమించండి"),
    ("sign_up", "Sign up", "నమోదు చేసుకోండి"),
    ("phone", "Phone number", "ఫోన్ నంబర్"),
    ("password", "Password", "పాస్‌వర్డ్"),
    ("with_password", "With password", "పాస్‌వర్డ్‌తో"),
    ("with_code", "With a code by SMS", "SMS కోడ్‌తో"),
    ("send_code", "Send code", "కోడ్ పంపండి"),
    ("code", "Code", "కోడ్"),
    ("code_sent", "A code was sent to your phone.", "మీ ఫోన్‌కు కోడ్ పంపబడింది."),
    ("verify", "Verify", "ధృవీకరించండి"),
    ("name", "Name", "పేరు"),
    ("consent_title", "Consent", "సమ్మతి"),
    (
        "consent_text",
        "I agree that what I contribute is collected for an open Telugu language corpus, and may be reviewed, stored and published.",
        "నేను అందించేవి తెలుగు భాషా కార్పస్ కోసం సేకరించబడతాయని, సమీక్షించబడి, నిల్వ చేయబడి, ప్రచురించబడవచ్చని నేను అంగీకరిస్తున్నాను.",
    ),
    ("consent_required", "Consent is required to create an account.", "ఖాతా సృష్టించడానికి సమ్మతి అవసరం."),
    ("create_account", "Create account", "ఖాతా సృష్టించండి"),
    ("have_account", "Already registered? Sign in", "ఇప్పటికే నమోదు చేసుకున్నారా? ప్రవేశించండి"),
    ("no_account", "New here? Sign up", "కొత్తవారా? నమోదు చేసుకోండి"),
    ("contribute", "Contribute", "అందించండి"),
    ("my_contributions", "My contributions", "నా అందింపులు"),
    ("review", "Review", "సమీక్ష"),
    ("dashboard", "Dashboard", "డాష్‌బోర్డ్"),
    ("users", "Users", "వినియోగదారులు"),
    ("categories", "Categories", "వర్గాలు"),
    ("exports", "Exports", "ఎగుమతులు"),
    (
        "exports_hint",
        "Export the corpus, or part of it, as a media archive with its manifest.",
        "కార్పస్‌ను, లేదా దానిలో కొంత భాగాన్ని, మీడియా ఆర్కైవ్ మరియు దాని జాబితాతో ఎగుమతి చేయండి.",
    ),
    ("new_dataset_export", "New dataset export", "కొత్త డేటాసెట్ ఎగుమతి"),
    ("export_filters_hint", "Leave a filter empty to take every record.", "అన్ని రికార్డులూ కావాలంటే ఫిల్టర్‌ను ఖాళీగా వదలండి."),
    ("languages", "Languages (comma-separated)", "భాషలు (కామాలతో వేరు చేసి)"),
    ("from_date", "Created from", "సృష్టించిన తేదీ నుండి"),
    ("to_date", "Created up to", "సృష్టించిన తేదీ వరకు"),
    ("bbox", "Area: min lon, min lat, max lon, max lat", "ప్రాంతం: కనిష్ఠ రేఖాంశం, కనిష్ఠ అక్షాంశం, గరిష్ఠ రేఖాంశం, గరిష్ఠ అక్షాంశం"),
    ("start_export", "Start export", "ఎగుమతి ప్రారంభించండి"),
    ("recent_exports", "Recent exports", "ఇటీవలి ఎగుమతులు"),
    ("download", "Download", "డౌన్‌లోడ్"),
    ("cancel", "Cancel", "రద్దు చేయండి"),
    ("category", "Category", "వర్గం"),
    ("title", "Title", "శీర్షిక"),
    ("description", "Description", "వివరణ"),
    ("media_type", "Media type", "మాధ్యమ రకం"),
    ("file", "File", "ఫైల్"),
    ("upload", "Upload", "అప్‌లోడ్ చేయండి"),
    ("record_audio", "Record audio", "ఆడియో రికార్డ్ చేయండి"),
    ("start_recording", "Start recording", "రికార్డింగ్ ప్రారంభించండి"),
    ("stop_recording", "Stop recording", "రికార్డింగ్ ఆపండి"),
    ("upload_recording", "Upload recording", "రికార్డింగ్ అప్‌లోడ్ చేయండి"),
    ("uploaded", "Uploaded. Thank you!", "అప్‌లోడ్ అయింది. ధన్యవాదాలు!"),
    ("upload_resuming", "Connection lost; resuming…", "కనెక్షన్ పోయింది; కొనసాగిస్తోంది…"),
    ("or", "or", "లేదా"),
    ("status", "Status", "స్థితి"),
    ("outcome", "Review outcome", "సమీక్ష ఫలితం"),
    ("note", "Note", "గమనిక"),
    ("created", "Created", "సృష్టించబడింది"),
    ("play", "Play", "ప్లే"),
    ("records", "Records", "రికార్డులు"),
    ("hours", "Hours", "గంటలు"),
    ("total", "Total", "మొత్తం"),
    ("none_yet", "Nothing yet.", "ఇంకా ఏమీ లేదు."),
    ("approve", "Approve", "ఆమోదించండి"),
    ("reject", "Reject", "తిరస్కరించండి"),
    ("skip", "Skip", "దాటవేయండి"),
    ("reviewed_count", "Reviewed this session", "ఈ సెషన్‌లో సమీక్షించినవి"),
    ("queue_empty", "The review queue is empty.", "సమీక్ష క్యూ ఖాళీగా ఉంది."),
    ("shortcuts", "Keys: A approve, R reject, S skip, Space play/pause", "కీలు: A ఆమోదం, R తిరస్కరణ, S దాటవేత, Space ప్లే/పాజ్"),
    ("backlog", "Review backlog", "సమీక్ష బకాయి"),
    ("approved", "Approved", "ఆమోదించబడింది"),
    ("rejected", "Rejected", "తిరస్కరించబడింది"),
    ("pending", "Pending", "పెండింగ్"),
    ("in_review", "In review", "సమీక్షలో ఉంది"),
    ("per_day", "Records and hours per day", "రోజువారీ రికార్డులు, గంటలు"),
    ("per_category", "Per category", "వర్గం వారీగా"),
    ("per_media_type", "Per media type", "మాధ్యమ రకం వారీగా"),
    ("top_contributors", "Top contributors", "అగ్ర సహకారులు"),
    ("contributors", "Contributors", "సహకారులు"),
    ("search", "Search", "వెతకండి"),
    ("active", "Active", "క్రియాశీలం"),
    ("inactive", "Inactive", "నిష్క్రియం"),
    ("activate", "Activate", "క్రియాశీలం చేయండి"),
    ("deactivate", "Deactivate", "నిష్క్రియం చేయండి"),
    ("roles", "Roles", "పాత్రలు"),
    ("save", "Save", "సేవ్ చేయండి"),
    ("create", "Create", "సృష్టించండి"),
    ("published", "Published", "ప్రచురించబడింది"),
    ("rank", "Rank", "క్రమం"),
    ("machine_name", "Name (unique)", "పేరు (ప్రత్యేకం)"),
    ("forbidden", "You do not have access to this page.", "ఈ పేజీకి మీకు అనుమతి లేదు."),
    ("error", "Something went wrong", "ఏదో తప్పు జరిగింది"),
    ("back", "Back", "వెనుకకు"),
    ("welcome", "Welcome", "స్వాగతం"),
    ("language", "Language", "భాష"),
    ("days", "Day", "రోజు"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_translated() {
        for (i, (key, en, te)) in STRINGS.iter().enumerate() {
            assert!(!en.is_empty() && !te.is_empty(), "{key}");
            assert!(STRINGS[i + 1..].iter().all(|(k, _, _)| k != key), "duplicate {key}");
        }
        assert_eq!(Tr(Lang::Te).t("review"), "సమీక్ష");
        assert_eq!(Tr(Lang::Te).t("no such key"), "?");
        assert_eq!(Tr(Lang::En).t("review"), "Review");
    }

    /// Every `t("key")` in the templates and the console's code names a string of the table.
    #[test]
    fn every_key_used_is_in_the_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates/console", "src/console"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                // This file names keys in its own tests and comments.
                if !path.ends_with("i18n.rs") {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut used = 0;
        for source in &sources {
            for piece in source.split(".t(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !key.is_empty() {
                    used += 1;
                    assert!(STRINGS.iter().any(|(k, _, _)| *k == key), "`{key}` is used but not translated");
                }
            }
        }
        assert!(used > 50, "{used}");
        // Review outcomes are shown through their stored names.
        for key in ["approved", "rejected", "pending"] {
            assert!(STRINGS.iter().any(|(k, _, _)| *k == key));
        }
    }
}
