//! The compose files, checked without a compose engine: `docker-compose.yml` alone and merged with
//! `docker-compose.prod.yml` validate against the Compose Specification's JSON schema (a copy in
//! `tests/fixtures/compose-spec/`), and the stack they describe has its services, named volumes,
//! health checks and start order.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::Path,
};

use clap::CommandFactory;
use serde_json::{Map, Value, json};

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A YAML file as JSON, anchors and aliases resolved.
fn load_yaml(name: &str) -> Value {
    serde_norway::from_str(&repo_file(name)).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

/// Compose's variable interpolation of one string: `$$` is a literal `$`; `${V}` and `$V`;
/// `${V:-default}` / `${V-default}` (default when unset or empty / when unset); `${V:?message}` /
/// `${V?message}` (an error); `${V:+alt}` / `${V+alt}`.
fn interpolate(text: &str, env: &HashMap<&str, &str>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            // The matching brace: a default may itself hold `${...}`.
            let mut depth = 0usize;
            let end = after
                .char_indices()
                .find(|&(_, c)| match c {
                    '{' => {
                        depth += 1;
                        false
                    }
                    '}' if depth == 0 => true,
                    '}' => {
                        depth -= 1;
                        false
                    }
                    _ => false,
                })
                .map(|(i, _)| i)
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let expr = &after[..end];
            rest = &after[end + 1..];
            let name_end = expr.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_end);
            let value = env.get(name).copied();
            let set_nonempty = value.is_some_and(|v| !v.is_empty());
            let substituted = if op.is_empty() {
                value.unwrap_or_default().to_owned()
            } else if let Some(default) = op.strip_prefix(":-") {
                if set_nonempty { value.unwrap().to_owned() } else { interpolate(default, env)? }
            } else if let Some(default) = op.strip_prefix('-') {
                value.map_or_else(|| interpolate(default, env), |v| Ok(v.to_owned()))?
            } else if let Some(message) = op.strip_prefix(":?") {
                if set_nonempty { value.unwrap().to_owned() } else { return Err(format!("{name}: {message}")) }
            } else if let Some(message) = op.strip_prefix('?') {
                value.ok_or_else(|| format!("{name}: {message}"))?.to_owned()
            } else if let Some(alt) = op.strip_prefix(":+") {
                if set_nonempty { interpolate(alt, env)? } else { String::new() }
            } else if let Some(alt) = op.strip_prefix('+') {
                if value.is_some() { interpolate(alt, env)? } else { String::new() }
            } else {
                return Err(format!("unsupported interpolation ${{{expr}}} in {text:?}"));
            };
            out.push_str(&substituted);
        } else {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("a lone $ in {text:?} (write $$)"));
            }
            out.push_str(env.get(&rest[..end]).copied().unwrap_or_default());
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolates every string (keys included) of a compose document.
fn interpolate_all(value: &Value, env: &HashMap<&str, &str>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(interpolate(s, env)?),
        Value::Array(items) => Value::Array(items.iter().map(|v| interpolate_all(v, env)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((interpolate(k, env)?, interpolate_all(v, env)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Merges `over` into `base` as compose merges files: maps key by key, recursively; anything else
/// (scalars, lists) from `over` replaces `base`'s.
fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// The variables an operator must set; everything else has a default.
fn operator_env() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("POSTGRES_PASSWORD", "a-database-password"),
        ("APP_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    ])
}

fn base() -> Value {
    interpolate_all(&load_yaml("docker-compose.yml"), &operator_env()).expect("docker-compose.yml interpolates")
}

fn merged() -> Value {
    let mut merged = base();
    let over = interpolate_all(&load_yaml("docker-compose.prod.yml"), &operator_env())
        .expect("docker-compose.prod.yml interpolates");
    deep_merge(&mut merged, &over);
    merged
}

fn schema_errors(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(&repo_file("tests/fixtures/compose-spec/compose-spec.json")).unwrap();
    let validator = jsonschema::draft7::new(&schema).expect("the compose schema compiles");
    validator.iter_errors(document).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn services(document: &Value) -> &Map<String, Value> {
    document["services"].as_object().expect("a services map")
}

/// `depends_on` of a service as (dependency, condition); the short list form has no condition.
fn dependencies(service: &Value) -> Vec<(String, Option<String>)> {
    match &service["depends_on"] {
        Value::Null => Vec::new(),
        Value::Array(names) => names.iter().map(|n| (n.as_str().unwrap().to_owned(), None)).collect(),
        Value::Object(map) => {
            map.iter().map(|(name, spec)| (name.clone(), spec["condition"].as_str().map(str::to_owned))).collect()
        }
        other => panic!("depends_on is {other}"),
    }
}

/// The services in an order compose can start them in (each after what it depends on), or the
/// services caught in a cycle.
fn start_order(document: &Value) -> Result<Vec<String>, Vec<String>> {
    let mut pending: BTreeMap<String, BTreeSet<String>> = services(document)
        .iter()
        .map(|(name, service)| (name.clone(), dependencies(service).into_iter().map(|(d, _)| d).collect()))
        .collect();
    let mut order = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> =
            pending.iter().filter(|(_, deps)| deps.iter().all(|d| order.contains(d))).map(|(n, _)| n.clone()).collect();
        if ready.is_empty() {
            return Err(pending.into_keys().collect());
        }
        for name in ready {
            pending.remove(&name);
            order.push(name);
        }
    }
    Ok(order)
}

fn profiles(service: &Value) -> Vec<&str> {
    service["profiles"].as_array().map(|p| p.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Seconds of a compose duration such as `30s`, `1m30s`.
fn seconds(duration: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    for c in duration.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            let n: u64 = number.parse().unwrap_or_else(|_| panic!("duration {duration}"));
            total += n * match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                other => panic!("unit {other} in {duration}"),
            };
            number.clear();
        }
    }
    assert!(number.is_empty(), "duration {duration} ends without a unit");
    total
}

#[test]
fn compose_interpolation_follows_the_compose_rules() {
    let env = HashMap::from([("SET", "v"), ("EMPTY", "")]);
    assert_eq!(interpolate("a${SET}b$SET $$HOME", &env).unwrap(), "avbv $HOME");
    assert_eq!(interpolate("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-${SET}}", &env).unwrap(), "d  d v");
    assert_eq!(interpolate("${SET:+alt}${EMPTY:+alt}${EMPTY+x}", &env).unwrap(), "altx");
    assert!(interpolate("${EMPTY:?required}", &env).unwrap_err().contains("required"));
    assert_eq!(interpolate("${EMPTY?required}", &env).unwrap(), "");
    assert!(interpolate("${UNSET?required}", &env).is_err());
    assert!(interpolate("cost: 5$", &env).is_err());
    let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
    deep_merge(&mut base, &json!({"a": {"c": [3], "e": true}, "f": "x"}));
    assert_eq!(base, json!({"a": {"b": 1, "c": [3], "e": true}, "d": 1, "f": "x"}));
}

#[test]
fn compose_files_need_the_secrets_set() {
    for missing in ["POSTGRES_PASSWORD", "APP_SECRET_KEY"] {
        let mut env = operator_env();
        env.remove(missing);
        let err = interpolate_all(&load_yaml("docker-compose.yml"), &env).unwrap_err();
        assert!(err.contains(missing), "{err}");
    }
}

#[test]
fn compose_base_and_production_files_follow_the_compose_specification() {
    // The schema itself catches what it should: a misspelt key is an error.
    let mut broken = base();
    broken["services"]["api"]["helthcheck"] = json!({"test": ["CMD", "true"]});
    assert!(!schema_errors(&broken).is_empty(), "the schema accepts a misspelt key");

    let errors = schema_errors(&base());
    assert!(errors.is_empty(), "docker-compose.yml:\n{}", errors.join("\n"));
    let errors = schema_errors(&merged());
    assert!(errors.is_empty(), "docker-compose.yml + docker-compose.prod.yml:\n{}", errors.join("\n"));
    // The override only adds to services of the base file.
    let over = load_yaml("docker-compose.prod.yml");
    for name in services(&over).keys() {
        assert!(services(&base()).contains_key(name), "the override names unknown service {name}");
    }
}

#[test]
fn compose_stack_has_its_services_volumes_health_checks_and_start_order() {
    let doc = base();
    let services = services(&doc);
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["db", "redis", "db-init", "api", "worker", "minio", "minio-init"]));

    // PostGIS, and Redis with append-only persistence.
    assert!(services["db"]["image"].as_str().unwrap().starts_with("postgis/postgis:15"), "{}", services["db"]);
    let redis: Vec<&str> = services["redis"]["command"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(redis.windows(2).any(|w| w == ["--appendonly", "yes"]), "{redis:?}");

    // MinIO is optional: only with `--profile minio`, and nothing outside the profile needs it
    // (compose refuses a dependency on a service whose profile is off).
    for (name, service) in services {
        let expected: &[&str] = if name.starts_with("minio") { &["minio"] } else { &[] };
        assert_eq!(profiles(service), expected, "profiles of {name}");
        for (dependency, _) in dependencies(service) {
            for profile in profiles(&services[&dependency]) {
                assert!(profiles(service).contains(&profile), "{name} depends on {dependency}, only in {profile}");
            }
        }
    }

    // Named volumes: data lives in declared volumes, each declared one is used.
    let declared: BTreeSet<&str> = doc["volumes"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut used = BTreeSet::new();
    let mut mounts = BTreeMap::new();
    for (name, service) in services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let (source, target) = volume.as_str().unwrap().split_once(':').unwrap();
            if !source.starts_with(['.', '/', '~']) {
                assert!(declared.contains(source), "{name} mounts undeclared volume {source}");
                used.insert(source);
            }
            mounts.insert((name.as_str(), target.split(':').next().unwrap()), source);
        }
    }
    assert_eq!(used, declared, "every declared volume is mounted");
    assert_eq!(mounts[&("db", "/var/lib/postgresql/data")], "postgres_data");
    assert_eq!(mounts[&("redis", "/data")], "redis_data");
    assert_eq!(mounts[&("api", "/var/lib/corpus/data")], "corpus_files");
    assert_eq!(mounts[&("minio", "/data")], "minio_data");

    // Every long-running service has a health check and restarts; one-shot jobs do not restart.
    for (name, service) in services {
        if name.ends_with("-init") {
            assert_eq!(service["restart"], "no", "{name} runs once");
        } else {
            assert!(service["healthcheck"]["test"].as_array().is_some_and(|t| !t.is_empty()), "{name} health check");
            assert_eq!(service["restart"], "unless-stopped", "{name}");
        }
    }

    // Start order: every dependency waits on a condition, on a service that has what the
    // condition needs (a health check, or being a one-shot job).
    for (name, service) in services {
        for (dependency, condition) in dependencies(service) {
            let condition = condition.unwrap_or_else(|| panic!("{name} -> {dependency} has no condition"));
            match condition.as_str() {
                "service_healthy" => assert!(services[&dependency]["healthcheck"].is_object(), "{dependency}"),
                "service_completed_successfully" => assert!(dependency.ends_with("-init"), "{dependency}"),
                other => panic!("{name} -> {dependency}: {other} does not wait for readiness"),
            }
        }
    }
    let deps = |name: &str| -> BTreeMap<String, String> {
        dependencies(&services[name]).into_iter().map(|(d, c)| (d, c.unwrap())).collect()
    };
    assert_eq!(deps("db-init"), BTreeMap::from([("db".into(), "service_healthy".into())]));
    assert_eq!(
        deps("api"),
        BTreeMap::from([
            ("db-init".into(), "service_completed_successfully".into()),
            ("redis".into(), "service_healthy".into())
        ])
    );
    assert_eq!(deps("worker"), deps("api"), "the worker starts once the api could");
    assert_eq!(deps("minio-init"), BTreeMap::from([("minio".into(), "service_healthy".into())]));
    let order = start_order(&doc).unwrap_or_else(|cycle| panic!("dependency cycle among {cycle:?}"));
    let position = |name: &str| order.iter().position(|n| n == name).unwrap();
    assert!(position("db") < position("db-init") && position("db-init") < position("api"), "{order:?}");
    assert!(position("redis") < position("api") && position("minio") < position("minio-init"), "{order:?}");
}

#[test]
fn compose_api_gets_only_real_settings_and_time_to_shut_down() {
    let doc = base();
    let api = &services(&doc)["api"];
    let known = known_settings();
    let environment = api["environment"].as_object().unwrap();
    for key in environment.keys() {
        assert!(known.contains(key), "the api is given {key}, which is no setting of corpus");
    }
    // Production, with shared rate limits: no start warning about per-process limits.
    assert_eq!(environment["CORPUS_ENV"], "production");
    assert_eq!(environment["REDIS_URL"], "redis://redis:6379/0");
    assert_eq!(environment["DATABASE_URL"], "postgres://corpus:a-database-password@db:5432/corpus_te");
    // db-init migrates the database the api serves.
    assert_eq!(services(&doc)["db-init"]["environment"], api["environment"]);
    assert_eq!(services(&doc)["db-init"]["image"], api["image"]);
    // The orchestrator waits SHUTDOWN_GRACE_SECONDS + 10 before a SIGKILL (see the README).
    let grace: u64 = environment.get("SHUTDOWN_GRACE_SECONDS").and_then(|v| v.as_str()?.parse().ok()).unwrap_or(20);
    assert!(seconds(api["stop_grace_period"].as_str().unwrap()) >= grace + 10, "{}", api["stop_grace_period"]);
    // The api serves only; the worker service runs `corpus worker` on the same settings and files.
    assert_eq!(environment["CORPUS_NO_WORKER"], "true");
    let worker = &services(&doc)["worker"];
    assert_eq!(worker["command"], json!(["worker"]));
    assert_eq!(worker["environment"], api["environment"]);
    assert_eq!(worker["image"], api["image"]);
    assert!(worker["volumes"].as_array().unwrap().contains(&json!("corpus_files:/var/lib/corpus/data")));
    assert!(seconds(worker["stop_grace_period"].as_str().unwrap()) >= grace + 10);
    // Spooled uploads go to a volume, not the container's layer.
    assert_eq!(environment["UPLOAD_TMP_DIR"], "/var/lib/corpus/spool");
}

#[test]
fn compose_production_override_limits_every_service() {
    let doc = merged();
    for (name, service) in services(&doc) {
        let limits = &service["deploy"]["resources"]["limits"];
        assert!(limits["cpus"].as_str().is_some_and(|c| c.parse::<f64>().is_ok_and(|c| c > 0.0)), "{name}: {limits}");
        assert!(limits["memory"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {limits}");
        assert_eq!(service["logging"]["options"]["max-size"], "20m", "{name} rotates its logs");
        // The merge keeps what the base file says.
        assert_eq!(service["image"], services(&base())[name]["image"], "{name}");
        assert_eq!(service["healthcheck"], services(&base())[name]["healthcheck"], "{name}");
        assert_eq!(service["depends_on"], services(&base())[name]["depends_on"], "{name}");
    }
    assert_eq!(doc["volumes"], base()["volumes"]);
}

/// Every environment variable `corpus` reads.
fn known_settings() -> BTreeSet<String> {
    corpus_te::cli::Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env().map(|env| env.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn env_example_documents_every_setting_and_nothing_else() {
    // `NAME=value` lines, commented out or not.
    let documented: BTreeSet<String> = repo_file(".env.example")
        .lines()
        .filter_map(|line| {
            let (name, _) = line.trim_start_matches('#').trim().split_once('=')?;
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .then(|| name.to_owned())
        })
        .collect();
    let known = known_settings();
    let missing: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    assert!(unknown.is_empty(), ".env.example names {unknown:?}, which corpus does not read");
}
