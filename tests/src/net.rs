//! Free loopback ports for servers under test.

use std::net::TcpListener;

/// A port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port the kernel
/// chose, and releases it. The server started next binds it; a race with another process is
/// possible but rare, and shows up as a start failure naming the port.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable_and_nonzero() {
        let p = free_port().expect("bind 127.0.0.1:0");
        assert_ne!(p, 0);
        TcpListener::bind(("127.0.0.1", p)).expect("port is free again");
    }
}
