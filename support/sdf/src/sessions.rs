//! Phase 2 rules for a NIC driver: a PD with a `sessions` setvar serves that many clients
//! (sessions), session 0 through `client_pd` and `mac`, session k >= 1 through `client_pd<k>`
//! and `mac<k>`. The file must give it a count the driver supports, every session a client
//! and a MAC, no setvar for a session it is not given, and no client or MAC twice, so a
//! mistake is caught by `make check` instead of by a driver that refuses to start.

use std::collections::HashMap;

use roxmltree::Node;

use crate::model::*;
use crate::parse::{show, Found, Reader, Sources};
use crate::MAX_NIC_SESSIONS;

/// Which session a setvar symbol configures.
enum SessionSymbol {
    /// `client_pd` (k = 0) or `client_pd<k>`.
    Client(u64),
    /// `mac` (k = 0) or `mac<k>`.
    Mac(u64),
    /// `client_pd0`, `mac01` and the like: looks like a session's symbol but is none.
    Misnamed,
}

/// `base` is session 0's symbol; `base<k>` (decimal, no leading zero, k >= 1) session k's.
fn session_of(symbol: &str, base: &str) -> Option<Result<u64, ()>> {
    let rest = symbol.strip_prefix(base)?;
    if rest.is_empty() {
        return Some(Ok(0));
    }
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if rest.starts_with('0') {
        return Some(Err(()));
    }
    // A number too long for u64 is still a session beyond the driver's.
    Some(Ok(rest.parse().unwrap_or(u64::MAX)))
}

fn classify(symbol: &str) -> Option<SessionSymbol> {
    let (found, make): (_, fn(u64) -> SessionSymbol) = match session_of(symbol, "client_pd") {
        Some(found) => (found, SessionSymbol::Client),
        None => (session_of(symbol, "mac")?, SessionSymbol::Mac),
    };
    Some(found.map_or(SessionSymbol::Misnamed, make))
}

pub(crate) fn check(system: &System, src: &Sources, r: &Reader, errs: &mut Vec<Found>) {
    for (pd, s) in system.pds.iter().zip(&src.pds) {
        let Some(count) = pd.setvars.iter().find(|v| v.symbol == "sessions") else { continue };
        let driver = show(&pd.name);
        // The `<setvar>` element a setvar came from (none for a map's setvar_vaddr=, say).
        let nodes: HashMap<Pos, Node> = s.setvar_nodes.iter().map(|n| (r.attr_pos_of(*n, "symbol"), *n)).collect();
        let node_of = |v: &SetVar| nodes.get(&v.pos).copied();
        // The attribute's position, or the symbol's if the setvar has no such attribute.
        let attr_pos = |v: &SetVar, attr: &str| {
            node_of(v).filter(|n| n.has_attribute(attr)).map_or(v.pos, |n| r.attr_pos_of(n, attr))
        };
        let at = |v: &SetVar| format!("setvar {} at line {}", show(&v.symbol), v.pos.line);

        let sessions = match (count.source, &count.value) {
            (SetVarSource::Value, &SetVarValue::Number(n)) if (1..=MAX_NIC_SESSIONS).contains(&n) => Some(n),
            (SetVarSource::Value, &SetVarValue::Number(n)) => {
                let why = if n == 0 {
                    "it needs at least 1 (the client of session 0)".to_string()
                } else {
                    format!("the NIC driver serves at most {MAX_NIC_SESSIONS}")
                };
                errs.push((attr_pos(count, "value"), format!("NIC driver {driver} is given {n} sessions; {why}")));
                None
            }
            _ => {
                errs.push((
                    attr_pos(count, "value"),
                    format!(
                        "setvar \"sessions\" of NIC driver {driver}: expected <setvar symbol=\"sessions\" value=\"N\"/>, N the number of clients it serves (1..{MAX_NIC_SESSIONS})"
                    ),
                ));
                None
            }
        };

        let mut clients: Vec<Option<&SetVar>> = vec![None; MAX_NIC_SESSIONS as usize];
        let mut macs: Vec<Option<&SetVar>> = vec![None; MAX_NIC_SESSIONS as usize];
        let mut client_of: HashMap<u64, &SetVar> = HashMap::new();
        let mut mac_of: HashMap<u64, &SetVar> = HashMap::new();
        for v in &pd.setvars {
            // Two setvars with one MAC, session symbols or not (compared as parsed addresses).
            if let (SetVarSource::ValueMac, &SetVarValue::Number(word)) = (v.source, &v.value) {
                if let Some(first) = mac_of.get(&word) {
                    let mac = MacAddr::from_word(word).map_or_else(|| format!("{word:#x}"), |m| m.to_string());
                    errs.push((
                        attr_pos(v, "value"),
                        format!(
                            "MAC {mac} of setvar {} is already given to {}; each session of NIC driver {driver} needs its own address",
                            show(&v.symbol),
                            at(first)
                        ),
                    ));
                } else {
                    mac_of.insert(word, v);
                }
            }
            let (k, slots, is_client) = match classify(&v.symbol) {
                None => continue,
                Some(SessionSymbol::Misnamed) => {
                    errs.push((v.pos, format!(
                        "setvar {} of NIC driver {driver} names no session: session 0 uses client_pd and mac, session k (1..{}) client_pd<k> and mac<k>",
                        show(&v.symbol),
                        MAX_NIC_SESSIONS - 1
                    )));
                    continue;
                }
                Some(SessionSymbol::Client(k)) => (k, &mut clients, true),
                Some(SessionSymbol::Mac(k)) => (k, &mut macs, false),
            };
            if let Some(n) = sessions {
                if k >= n {
                    errs.push((v.pos, format!(
                        "setvar {} is for session {k}, but NIC driver {driver} is given {}; raise sessions or remove this setvar",
                        show(&v.symbol),
                        if n == 1 { "1 session (session 0 only)".to_string() } else { format!("{n} sessions (0..{})", n - 1) }
                    )));
                    continue;
                }
            }
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| slots.get_mut(k)) {
                slot.get_or_insert(v);
            }
            if !is_client {
                if v.source != SetVarSource::ValueMac {
                    errs.push((
                        attr_pos(v, "value"),
                        format!(
                            "setvar {} of NIC driver {driver}: expected value=\"aa:bb:cc:dd:ee:ff\", the MAC address of session {k}",
                            show(&v.symbol)
                        ),
                    ));
                }
                continue;
            }
            // A client is named by pd_index=, and one client has one session.
            let name = node_of(v).and_then(|n| n.attribute("pd_index"));
            let Some(name) = name.filter(|_| v.source == SetVarSource::PdIndex) else {
                errs.push((
                    v.pos,
                    format!(
                        "setvar {} of NIC driver {driver}: expected pd_index=\"<protection domain>\", the client of session {k}",
                        show(&v.symbol)
                    ),
                ));
                continue;
            };
            let Some(index) = system.pd_index(name) else { continue }; // reported with the pd_index= rules
            if let Some(first) = client_of.get(&(index as u64)) {
                errs.push((
                    attr_pos(v, "pd_index"),
                    format!(
                        "setvar {} names protection domain {}, which is already the client of NIC driver {driver} through {}; one client has one session",
                        show(&v.symbol),
                        show(name),
                        at(first)
                    ),
                ));
            } else {
                client_of.insert(index as u64, v);
            }
        }

        // Every session after the first has its client and its MAC (session 0's MAC may be
        // the NIC's own).
        let Some(n) = sessions else { continue };
        let mut missing: Vec<String> = Vec::new();
        for k in 1..n as usize {
            if clients[k].is_none() {
                missing.push(format!("client_pd{k}"));
            }
            if macs[k].is_none() {
                missing.push(format!("mac{k}"));
            }
        }
        if !missing.is_empty() {
            errs.push((
                count.pos,
                format!(
                    "NIC driver {driver} is given {n} sessions but has no setvar {}: each session k after the first needs client_pd<k> (pd_index= of its client) and mac<k> (value= its MAC address)",
                    missing.join(", ")
                ),
            ));
        }
    }
}
