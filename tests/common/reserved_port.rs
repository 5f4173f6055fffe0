//! A port reserved for a server started later (included with `#[path]` by
//! the tests that need it: it uses `libc`, which not every crate sharing
//! `tests/common` depends on).

/// A port on 127.0.0.1 held by a socket that is bound but not listening:
/// connections to it are refused, and nobody else can bind it until
/// [`ReservedPort::release`] (which leaves only a moment for another process
/// to take it before the caller binds it itself).
pub struct ReservedPort {
    fd: std::os::fd::OwnedFd,
    port: u16,
}

impl ReservedPort {
    pub fn new() -> ReservedPort {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain socket calls on a descriptor this function owns; the
        // address structures are initialized and sized as the calls expect.
        unsafe {
            let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
            let fd = std::os::fd::OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let named = libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut len);
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            ReservedPort { fd, port: u16::from_be(addr.sin_port) }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Frees the port for the caller to bind now.
    pub fn release(self) -> u16 {
        drop(self.fd);
        self.port
    }
}
