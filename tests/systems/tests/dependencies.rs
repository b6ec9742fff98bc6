//! Dependencies point down (DESIGN.md section 3), tests included: from `cargo metadata`, no
//! crate under `pds/<name>/` depends (normal, dev or build) on a crate of another PD, and no
//! crate under `support/` on one under `pds/`; neither depends on `tests/` or `examples/`.
//! A layout two PDs share belongs in a `support/` crate, a test of two PDs together in
//! `tests/`. The second test runs the same check on a small workspace that breaks each rule.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a crate sits in the layering.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Support,
    /// `pds/<name>/...`: the PD's library, its binary and anything else in its folder.
    Pd(String),
    /// `tests/` and `examples/`: the top, free to depend on anything.
    Top,
    Other,
}

fn place(rel: &Path) -> Place {
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    match (parts.next().as_deref(), parts.next()) {
        (Some("support"), Some(_)) => Place::Support,
        (Some("pds"), Some(pd)) => Place::Pd(pd),
        (Some("tests" | "examples"), Some(_)) => Place::Top,
        _ => Place::Other,
    }
}

/// Why the edge `from -> to` points the wrong way, if it does.
fn wrong_way(from: &Place, to: &Place) -> Option<&'static str> {
    match (from, to) {
        (Place::Pd(a), Place::Pd(b)) if a != b => {
            Some("a PD's crate must not depend on another PD's: move what both need to a support/ crate, or the test to tests/")
        }
        (Place::Support, Place::Pd(_)) => Some("a support/ crate must not depend on a PD: support/ is below pds/"),
        (Place::Support | Place::Pd(_), Place::Top) => Some("nothing in support/ or pds/ may depend on tests/ or examples/"),
        _ => None,
    }
}

/// Every dependency edge of the workspace at `root` that points the wrong way, one line each.
fn violations(root: &Path) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo} metadata: {e}"));
    assert!(
        out.status.success(),
        "cargo metadata failed in {}:\n{}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = json::parse(&String::from_utf8_lossy(&out.stdout)).expect("cargo metadata prints JSON");
    let ws = PathBuf::from(meta.get("workspace_root").and_then(json::Value::as_str).expect("workspace_root"));
    let rel = |p: &str| Path::new(p).strip_prefix(&ws).map(Path::to_path_buf).unwrap_or_else(|_| PathBuf::from(p));
    let mut found = Vec::new();
    let packages = meta.get("packages").and_then(json::Value::as_array).expect("packages");
    assert!(!packages.is_empty(), "cargo metadata lists no packages in {}", root.display());
    for pkg in packages {
        let name = pkg.get("name").and_then(json::Value::as_str).expect("package name");
        let manifest = rel(pkg.get("manifest_path").and_then(json::Value::as_str).expect("manifest_path"));
        let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        let from = place(&dir);
        for dep in pkg.get("dependencies").and_then(json::Value::as_array).expect("dependencies") {
            let Some(path) = dep.get("path").and_then(json::Value::as_str) else {
                continue; // a registry crate
            };
            let to_dir = rel(path);
            let kind = match dep.get("kind").and_then(json::Value::as_str) {
                Some("dev") => "dev-dependency",
                Some("build") => "build-dependency",
                _ => "dependency",
            };
            if let Some(why) = wrong_way(&from, &place(&to_dir)) {
                let dep_name = dep.get("name").and_then(json::Value::as_str).unwrap_or("?");
                found.push(format!(
                    "{} ({name}) has a {kind} on {} ({dep_name}): {why}",
                    dir.display(),
                    to_dir.display()
                ));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn workspace_dependencies_point_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bad = violations(&root);
    assert!(bad.is_empty(), "dependencies that point the wrong way:\n{}", bad.join("\n"));
}

#[test]
fn the_check_catches_every_kind_of_upward_edge() {
    // support/s -> pds/b, pds/a =dev=> pds/b, pds/c =build=> pds/b, pds/b -> tests/t are wrong;
    // pds/a/pd -> pds/a (a PD's binary on its own library), pds/a -> support/s, tests/t -> pds/a
    // and examples/e -> pds/b are fine.
    let ws = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dependency-check");
    let _ = std::fs::remove_dir_all(&ws);
    let krate = |dir: &str, deps: &str| {
        let d = ws.join(dir);
        std::fs::create_dir_all(d.join("src")).unwrap();
        let name = dir.replace('/', "-");
        std::fs::write(
            d.join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{deps}"),
        )
        .unwrap();
        std::fs::write(d.join("src/lib.rs"), "").unwrap();
    };
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("Cargo.toml"), "[workspace]\nresolver = \"2\"\nmembers = [\"pds/a\", \"pds/a/pd\", \"pds/b\", \"pds/c\", \"support/s\", \"tests/t\", \"examples/e\"]\n").unwrap();
    krate("support/s", "[dependencies]\npds-b = { path = \"../../pds/b\" }\n");
    krate(
        "pds/a",
        "[dependencies]\nsupport-s = { path = \"../../support/s\" }\n[dev-dependencies]\npds-b = { path = \"../b\" }\n",
    );
    krate("pds/a/pd", "[dependencies]\npds-a = { path = \"..\" }\n");
    krate("pds/b", "[dependencies]\ntests-t = { path = \"../../tests/t\" }\n");
    krate("pds/c", "[build-dependencies]\npds-b = { path = \"../b\" }\n");
    krate("tests/t", "");
    krate("examples/e", "[dependencies]\npds-b = { path = \"../../pds/b\" }\n");
    let bad = violations(&ws);
    let edges: Vec<&str> = bad.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        edges,
        [
            "pds/a (pds-a) has a dev-dependency on pds/b (pds-b)",
            "pds/b (pds-b) has a dependency on tests/t (tests-t)",
            "pds/c (pds-c) has a build-dependency on pds/b (pds-b)",
            "support/s (support-s) has a dependency on pds/b (pds-b)",
        ],
        "{bad:#?}"
    );
}

/// Just enough JSON for `cargo metadata`'s output (no third-party crate for one test).
mod json {
    /// A JSON value; the check reads no numbers, booleans or nulls.
    #[derive(Debug)]
    pub enum Value {
        Scalar,
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        /// The member `key` of an object.
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Array(a) => Some(a),
                _ => None,
            }
        }
    }

    /// Parses one JSON document; the error says where it stopped.
    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at byte {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
                self.i += 1;
            }
        }

        fn eat(&mut self, b: u8) -> Result<(), String> {
            self.ws();
            if self.s.get(self.i) == Some(&b) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected '{}' at byte {}", b as char, self.i))
            }
        }

        fn literal(&mut self, word: &str) -> Result<Value, String> {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(Value::Scalar)
            } else {
                Err(format!("bad literal at byte {}", self.i))
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    let mut members = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(members));
                    }
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.eat(b':')?;
                        members.push((k, self.value()?));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Object(members));
                            }
                            _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Array(items));
                            }
                            _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
                        }
                    }
                }
                Some(b'"') => Ok(Value::String(self.string()?)),
                Some(b't') => self.literal("true"),
                Some(b'f') => self.literal("false"),
                Some(b'n') => self.literal("null"),
                Some(b'-' | b'0'..=b'9') => {
                    while self.s.get(self.i).is_some_and(|b| b"+-.eE0123456789".contains(b)) {
                        self.i += 1;
                    }
                    Ok(Value::Scalar)
                }
                _ => Err(format!("unexpected input at byte {}", self.i)),
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.eat(b'"')?;
            let mut out = Vec::new();
            loop {
                let b = *self.s.get(self.i).ok_or("unterminated string")?;
                self.i += 1;
                match b {
                    b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                    b'\\' => {
                        let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                        self.i += 1;
                        match e {
                            b'n' => out.push(b'\n'),
                            b't' => out.push(b'\t'),
                            b'r' => out.push(b'\r'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'u' => {
                                let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                                let code = u32::from_str_radix(&String::from_utf8_lossy(hex), 16)
                                    .map_err(|e| e.to_string())?;
                                self.i += 4;
                                // Paths and names here are never surrogate pairs; keep others readable.
                                let c = char::from_u32(code).unwrap_or('\u{fffd}');
                                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                            }
                            other => out.push(other), // \" \\ \/
                        }
                    }
                    _ => out.push(b),
                }
            }
        }
    }
}
