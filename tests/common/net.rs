//! Addresses on this machine: ports nobody listens on, the routing proxy that
//! reaches the stand-in by the cloud's name, thermostats announcing themselves.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
#[cfg(feature = "test-util")]
use std::{
    net::{Ipv4Addr, SocketAddrV4},
    time::Duration,
};

#[cfg(feature = "test-util")]
use hmx::testing::{
    Announcer, CLOUD_HOST, MockCloud, MockProxy, MockProxyBuilder, MockThermostat, announcement,
};

/// A TCP port on 127.0.0.1 that nothing listens on (a connection is refused).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port on 127.0.0.1 free for a listener.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The port of the stand-in's base URL.
#[cfg(feature = "test-util")]
pub fn cloud_port(cloud: &MockCloud) -> &str {
    cloud.base_url().rsplit(':').next().unwrap()
}

/// The stand-in's base URL by [`CLOUD_HOST`], a name that resolves
/// nowhere: only a [`routing_proxy`] reaches it.
#[cfg(feature = "test-util")]
pub fn by_name_url(cloud: &MockCloud) -> String {
    format!("https://{CLOUD_HOST}:{}", cloud_port(cloud))
}

/// Starts `proxy`, routing [`CLOUD_HOST`] to this machine.
#[cfg(feature = "test-util")]
pub fn routing_proxy(proxy: MockProxyBuilder) -> MockProxy {
    proxy
        .route(CLOUD_HOST, Ipv4Addr::LOCALHOST.into())
        .start()
        .unwrap()
}

/// A thermostat `sn` announcing itself from 127.0.0.`last` to the loopback
/// broadcast address at `port`, every 100 ms.
#[cfg(feature = "test-util")]
pub fn announce(sn: &str, last: u8, port: u16) -> Announcer {
    let target = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), port);
    let packet = announcement(sn, "sx").to_string();
    let every = Duration::from_millis(100);
    Announcer::start(packet, Ipv4Addr::new(127, 0, 0, last), target, every).unwrap()
}

/// POSTs `body` to the stand-in's api.cgi and returns the answer's body as sent.
pub fn raw_post(device: &MockThermostat, body: &str) -> Vec<u8> {
    let mut tcp = TcpStream::connect(device.host()).unwrap();
    write!(
        tcp,
        "POST /api.cgi HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    raw[end + 4..].to_vec()
}
