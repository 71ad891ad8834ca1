//! The simulated unit behind the stand-in thermostat: one request at a time, reads, signed writes, faults.

use std::io::{self, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{
    Device, DeviceFault, FaultRule, HANG_LIMIT, On, READ_ONLY, Replay, Shared, WriteAnswer,
};
use crate::local::ValueType;
use crate::sync::lock;
use crate::testing::fixture::WriteForm;
use crate::testing::wire::{Reply, Request, read_request};
use crate::totp;

pub(super) fn device_now(offset: i64) -> u32 {
    (i64::from(totp::device_time_now()) + offset).clamp(0, i64::from(u32::MAX)) as u32
}

/// An answer's body: a JSON value, or exact text replayed from a fixture.
enum Body {
    Json(Value),
    Text(Vec<u8>),
}

impl Body {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Text(t) => t,
        }
    }
}

/// A 200 carrying `body`.
fn ok(body: Vec<u8>) -> Outcome {
    Outcome::Raw(
        Reply {
            status: 200,
            headers: Vec::new(),
            body,
        }
        .bytes(),
    )
}

/// What one request gets.
enum Outcome {
    Json(Value),
    Raw(Vec<u8>),
    Silence,
}

pub(super) fn serve(tcp: TcpStream, shared: &Shared) -> io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.set_nodelay(true)?;
    let mut reader = BufReader::new(tcp);
    while let Some(request) = read_request(&mut reader)? {
        let reply =
            if !request.well_formed || request.method != "POST" || request.path != "/api.cgi" {
                Outcome::Raw(Reply::json(404, json!({})).bytes())
            } else {
                take_turn(shared, &request)
            };
        let bytes = match reply {
            Outcome::Json(v) => Reply::json(200, v).bytes(),
            Outcome::Raw(bytes) => bytes,
            Outcome::Silence => {
                let start = Instant::now();
                while !shared.shutdown.load(Ordering::SeqCst) && start.elapsed() < HANG_LIMIT {
                    thread::sleep(Duration::from_millis(20));
                }
                return Ok(());
            }
        };
        reader.get_mut().write_all(&bytes)?;
        reader.get_mut().flush()?;
        if request.header("connection") == Some("close") {
            break;
        }
    }
    Ok(())
}

/// One request at a time: a second one in flight is answered busy.
fn take_turn(shared: &Shared, request: &Request) -> Outcome {
    let start = Instant::now();
    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    {
        let mut device = lock(&shared.device);
        device.stats.requests += 1;
        device.stats.max_concurrent = device.stats.max_concurrent.max(in_flight);
        if let Some(end) = device.last_end {
            let gap = start.saturating_duration_since(end);
            device.stats.min_gap = Some(device.stats.min_gap.map_or(gap, |g| g.min(gap)));
        }
        device
            .bodies
            .push(String::from_utf8_lossy(&request.body).into_owned());
        if in_flight > 1 {
            device.stats.concurrent_refused += 1;
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Outcome::Json(json!({"status": "timeout"}));
        }
    }
    thread::sleep(shared.service_time);
    let reply = handle(shared, &request.body);
    let mut device = lock(&shared.device);
    device.last_end = Some(Instant::now());
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    reply
}

fn handle(shared: &Shared, body: &[u8]) -> Outcome {
    let request = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => return Outcome::Json(json!({"success": "false"})),
    };
    // A fixture replays any `{"cmd":N}`; the built-in unit knows 1 to 4.
    let read = match request.get("cmd").and_then(Value::as_u64) {
        Some(cmd)
            if !request.contains_key("par")
                && !request.contains_key("tt")
                && (shared.replay.is_some() || (1..=4).contains(&cmd)) =>
        {
            Some(cmd)
        }
        _ => None,
    };
    let mut device = lock(&shared.device);
    let fault = take_fault(&mut device.faults, read);
    match fault {
        Some(DeviceFault::Busy) => return Outcome::Json(json!({"status": "timeout"})),
        Some(DeviceFault::NoAnswer) => return Outcome::Silence,
        _ => {}
    }
    let answer = match read {
        Some(cmd) => read_answer(shared, &device, cmd),
        None => write(shared, &mut device, &request),
    }
    .into_bytes();
    match fault {
        Some(DeviceFault::Empty) => ok(Vec::new()),
        Some(DeviceFault::CutOff) => {
            let mut text = answer;
            text.truncate(text.len() / 2);
            ok(text)
        }
        Some(DeviceFault::TrailingNul) => raw_body(answer, b"\0"),
        Some(DeviceFault::Padded) => {
            let mut padding = vec![b' '; 4];
            padding.resize(512usize.saturating_sub(answer.len() + 4), 0);
            raw_body(answer, &padding)
        }
        Some(DeviceFault::TrailingGarbage) => raw_body(answer, b"\r\nGARBAGE"),
        Some(DeviceFault::NoContentLength) => {
            let mut out =
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                    .to_vec();
            out.extend_from_slice(&answer);
            Outcome::Raw(out)
        }
        Some(DeviceFault::LfChunked) => {
            let (a, b) = answer.split_at(answer.len() / 2);
            let mut out = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n".to_vec();
            for part in [a, b] {
                out.extend_from_slice(format!("{:x}\n", part.len()).as_bytes());
                out.extend_from_slice(part);
                out.push(b'\n');
            }
            out.extend_from_slice(b"0\n\n");
            Outcome::Raw(out)
        }
        Some(DeviceFault::NoStatusLine) => Outcome::Raw(answer),
        _ => ok(answer),
    }
}

/// A 200 whose body is `answer` followed by `tail`.
fn raw_body(answer: Vec<u8>, tail: &[u8]) -> Outcome {
    let mut body = answer;
    body.extend_from_slice(tail);
    ok(body)
}

fn take_fault(faults: &mut Vec<FaultRule>, read: Option<u64>) -> Option<DeviceFault> {
    let i = faults.iter().position(|r| match r.on {
        On::Any => true,
        On::Cmd(c) => read == Some(u64::from(c)),
        On::Write => read.is_none(),
    })?;
    let fault = faults[i].fault;
    faults[i].remaining -= 1;
    if faults[i].remaining == 0 {
        faults.remove(i);
    }
    Some(fault)
}

fn with_sn(shared: &Shared, mut answer: Map<String, Value>) -> Value {
    if shared.sn_in_answers {
        let mut out = Map::new();
        out.insert("sn".into(), json!(shared.sn));
        out.append(&mut answer);
        return Value::Object(out);
    }
    Value::Object(answer)
}

fn read_answer(shared: &Shared, device: &Device, cmd: u64) -> Body {
    if let Some(replay) = &shared.replay {
        return replay_read(shared, replay, device, cmd);
    }
    Body::Json(built_in_read(shared, device, cmd))
}

/// A fixture's answer: the recorded text, unless a write changed the
/// parameter list (cmd 1 then lists the new values) or a key is set (the
/// `time` of cmd 3 and 4 then follows the stand-in's clock).
fn replay_read(shared: &Shared, replay: &Replay, device: &Device, cmd: u64) -> Body {
    if cmd == 1 && replay.original.as_ref() != Some(&device.parameters) && replay.original.is_some()
    {
        let mut map = replay.fixture.cmd1_object().unwrap_or_default();
        let par: Vec<Value> = device
            .parameters
            .iter()
            .map(|(id, t, v)| json!([id, t, v]))
            .collect();
        map.insert("par".into(), Value::Array(par));
        return Body::Json(Value::Object(map));
    }
    let Some(text) = replay.fixture.answer(cmd) else {
        return Body::Json(json!({}));
    };
    let changes = if cmd == 4 {
        live_changes(shared, device)
    } else {
        Map::new()
    };
    if (cmd == 3 || cmd == 4)
        && (shared.key.is_some() || !changes.is_empty())
        && let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text)
    {
        let before = map.clone();
        overlay(&mut map, &changes);
        let now = device_now(device.clock_offset);
        if let Some(time) = map.get_mut("time").filter(|_| shared.key.is_some()) {
            *time = if time.is_number() {
                json!(now)
            } else {
                json!(now.to_string())
            };
        }
        // Byte for byte as recorded unless something in it changed.
        if map != before || map.contains_key("time") && shared.key.is_some() {
            return Body::Json(Value::Object(map));
        }
    }
    Body::Text(text.as_bytes().to_vec())
}

fn built_in_read(shared: &Shared, device: &Device, cmd: u64) -> Value {
    let mut answer = Map::new();
    match cmd {
        1 => {
            let par: Vec<Value> = device
                .parameters
                .iter()
                .map(|(id, t, v)| json!([id, t, v]))
                .collect();
            answer.insert("par".into(), Value::Array(par));
        }
        2 => return json!({"tt": device.schedule}),
        3 if shared.cmd3 => {
            answer.insert(
                "time".into(),
                json!(device_now(device.clock_offset).to_string()),
            );
        }
        3 => {}
        _ => {
            answer = device.telemetry.clone();
            overlay(&mut answer, &live_changes(shared, device));
            answer.insert(
                "time".into(),
                json!(device_now(device.clock_offset).to_string()),
            );
        }
    }
    with_sn(shared, answer)
}

/// Lays `changes` over the members `answer` has (a unit that leaves a field
/// out keeps leaving it out), each as the answer gives it (string or number).
fn overlay(answer: &mut Map<String, Value>, changes: &Map<String, Value>) {
    for (key, value) in changes {
        if let Some(slot) = answer.get_mut(key) {
            *slot = match (&*slot, value) {
                (Value::String(_), Value::Number(n)) => Value::String(n.to_string()),
                _ => value.clone(),
            };
        }
    }
}

/// The telemetry the writes so far changed, plus the lock bits (`m.3`) a
/// key given at start sets.
fn live_changes(shared: &Shared, device: &Device) -> Map<String, Value> {
    let mut changes = device.telemetry_changes.clone();
    if shared.key.is_some() && !changes.contains_key("m.3") {
        changes.insert("m.3".into(), json!(lock_bits(device)));
    }
    changes
}

fn lock_bits(device: &Device) -> u8 {
    u8::from(flag(device, 114)) * 2 + u8::from(flag(device, 115))
}

/// What a parameter written as `value` shows in the telemetry, as units
/// report it: 31 in 1/16 °C (`t.5`, in the unit's scale by 31's type code;
/// not the "always on/off" 127/−127), 2 as the mode (`m.1`: 0 schedule, 3
/// manual), 125 as "powered off" (`f.16`, on a unit with a setpoint), 114
/// and 115 as the lock bits (`m.3`).
fn note_telemetry(device: &mut Device, id: u16, value: &str) {
    let listed = |id: u16| device.parameters.iter().find(|p| p.0 == id).map(|p| p.1);
    let number = value.trim().parse::<i64>().ok();
    let change = match (id, number) {
        (31, Some(raw)) if raw.abs() != 127 => match listed(31) {
            Some(3) => Some(("t.5", json!(raw * 16 / 10))),
            Some(1 | 2) => Some(("t.5", json!(raw * 16))),
            _ => None,
        },
        (2, Some(0)) => Some(("m.1", json!(0))),
        (2, Some(1)) => Some(("m.1", json!(3))),
        (125, Some(off)) if listed(31).is_some() || listed(5).is_some() => {
            Some(("f.16", json!(off)))
        }
        (114 | 115, Some(_)) => Some(("m.3", json!(lock_bits(device)))),
        _ => None,
    };
    if let Some((key, value)) = change {
        device.telemetry_changes.insert(key.into(), value);
    }
}

fn flag(device: &Device, id: u16) -> bool {
    device.parameters.iter().any(|p| p.0 == id && p.2 == "1")
}

/// LAN locking on: parameter 114, or, for a unit without a readable
/// parameter list, a key set on the builder.
fn lan_locked(shared: &Shared, device: &Device) -> bool {
    let listless = shared.replay.as_ref().is_some_and(|r| r.original.is_none());
    flag(device, 114) || (listless && shared.key.is_some())
}

/// Applies a write when it passes the device's checks; answers as the firmware does.
fn write(shared: &Shared, device: &mut Device, request: &Map<String, Value>) -> Body {
    let text = |name: &str| request.get(name).and_then(Value::as_str);
    let time = text("time").and_then(|t| t.parse::<u32>().ok());
    let now = device_now(device.clock_offset);
    let blocked = |device: &mut Device| {
        device.stats.writes_blocked += 1;
        match shared
            .replay
            .as_ref()
            .and_then(|r| r.fixture.block.as_ref())
        {
            Some(text) => Body::Text(text.as_bytes().to_vec()),
            None => Body::Json(json!({"success": "block"})),
        }
    };
    // LAN and cloud locking both on: every network write is refused.
    if flag(device, 114) && flag(device, 115) {
        return blocked(device);
    }
    if lan_locked(shared, device) {
        let Some((key, scheme)) = &shared.key else {
            return blocked(device);
        };
        let (Some(time), Some(auth)) = (time, text("auth")) else {
            return blocked(device);
        };
        let expected = scheme.code(key.as_bytes(), time).map(|c| c.to_string());
        // The token must be right for the time sent, and that time within one
        // 30-second window of the device's own clock.
        let window = |t: u32| i64::from(t / totp::PERIOD);
        let fresh = (window(time) - window(now)).abs() <= 1;
        if expected.as_deref() != Ok(auth) || !fresh {
            return blocked(device);
        }
    }
    if let Some(time) = time {
        // No command with a time earlier than the last one processed.
        if device.last_time.is_some_and(|last| time < last) {
            return blocked(device);
        }
    }
    if text("sn") != Some(shared.sn.as_str()) {
        device.stats.writes_rejected += 1;
        return Body::Json(json!({"success": "false"}));
    }
    let data: Vec<&String> = request
        .keys()
        .filter(|k| !["sn", "time", "auth"].contains(&k.as_str()))
        .collect();
    if data.is_empty() {
        if let Some(time) = time {
            // Only sn and time: the device sets its clock (and would stop syncing it from the cloud).
            device.stats.clock_sets += 1;
            device.clock_offset = i64::from(time) - i64::from(totp::device_time_now());
            return Body::Json(json!({"success": "true"}));
        }
        device.stats.writes_rejected += 1;
        return Body::Json(json!({"success": "false"}));
    }
    if let Some(Replay {
        original: None,
        write_form,
        ..
    }) = &shared.replay
    {
        // No parameter list to check against (D2W): the recorded answer, nothing applied.
        device.stats.writes_applied += 1;
        return match write_form {
            WriteForm::Text(text) => Body::Text(text.as_bytes().to_vec()),
            WriteForm::Parameters => Body::Json(json!({"success": "true"})),
        };
    }
    let mut changes = Vec::new();
    if let Some(par) = request.get("par") {
        let Some(entries) = par.as_array() else {
            device.stats.writes_rejected += 1;
            return Body::Json(json!({"success": "false"}));
        };
        for entry in entries {
            match check_entry(device, entry) {
                Some(change) => changes.push(change),
                None => {
                    device.stats.writes_rejected += 1;
                    return Body::Json(json!({"success": "false"}));
                }
            }
        }
    }
    if let Some(Value::Object(days)) = request.get("tt") {
        for (day, periods) in days {
            device.schedule.insert(day.clone(), periods.clone());
        }
    }
    for (id, value) in changes {
        if let Some(p) = device.parameters.iter_mut().find(|p| p.0 == id) {
            p.2 = value.clone();
        }
        note_telemetry(device, id, &value);
        device.applied.push((id, value));
    }
    if let Some(time) = time {
        device.last_time = Some(device.last_time.map_or(time, |last| last.max(time)));
    }
    device.stats.writes_applied += 1;
    if let Some(replay) = &shared.replay {
        return match &replay.write_form {
            WriteForm::Text(text) => Body::Text(text.as_bytes().to_vec()),
            WriteForm::Parameters => read_answer(shared, device, 1),
        };
    }
    match shared.write_answer {
        WriteAnswer::Success => Body::Json(json!({"success": "true"})),
        WriteAnswer::Parameters => read_answer(shared, device, 1),
    }
}

/// `[id, type, "value"]` checked against the device's own list and type codes.
fn check_entry(device: &Device, entry: &Value) -> Option<(u16, String)> {
    let [id, code, value] = entry.as_array()?.as_slice() else {
        return None;
    };
    let id = u16::try_from(id.as_u64()?).ok()?;
    let code = u8::try_from(code.as_u64()?).ok()?;
    let value = value.as_str()?;
    let listed = device.parameters.iter().find(|p| p.0 == id)?;
    if listed.1 != code || READ_ONLY.contains(&id) {
        return None;
    }
    let normal = ValueType::from_code(code)?.normalize(value).ok()?;
    (normal == value).then_some((id, normal))
}
