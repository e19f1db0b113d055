//! SSH_MSG_CHANNEL_REQUEST (RFC 4254 §5.4, §6, and OpenSSH's PROTOCOL).

use super::{Encode, TerminalModes, expect_number};
use crate::{Reader, Result, Writer, numbers};

/// Request type `pty-req` (RFC 4254 §6.2).
pub const PTY_REQ: &str = "pty-req";
/// Request type `x11-req` (RFC 4254 §6.3.1).
pub const X11_REQ: &str = "x11-req";
/// Request type `env` (RFC 4254 §6.4).
pub const ENV: &str = "env";
/// Request type `shell` (RFC 4254 §6.5).
pub const SHELL: &str = "shell";
/// Request type `exec` (RFC 4254 §6.5).
pub const EXEC: &str = "exec";
/// Request type `subsystem` (RFC 4254 §6.5).
pub const SUBSYSTEM: &str = "subsystem";
/// Request type `window-change` (RFC 4254 §6.7).
pub const WINDOW_CHANGE: &str = "window-change";
/// Request type `xon-xoff` (RFC 4254 §6.8).
pub const XON_XOFF: &str = "xon-xoff";
/// Request type `signal` (RFC 4254 §6.9).
pub const SIGNAL: &str = "signal";
/// Request type `exit-status` (RFC 4254 §6.10).
pub const EXIT_STATUS: &str = "exit-status";
/// Request type `exit-signal` (RFC 4254 §6.10).
pub const EXIT_SIGNAL: &str = "exit-signal";
/// Request type `keepalive@openssh.com`, used as a liveness probe.
pub const KEEPALIVE: &str = "keepalive@openssh.com";
/// Request type `auth-agent-req@openssh.com`: forward the agent.
pub const AUTH_AGENT_REQ: &str = "auth-agent-req@openssh.com";

/// What a CHANNEL_REQUEST asks for, with its type-specific fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRequestKind<'a> {
    /// `pty-req`: allocate a pseudo-terminal.
    PtyReq {
        /// TERM environment variable value, such as `xterm-256color`.
        term: &'a str,
        /// Width in characters.
        cols: u32,
        /// Height in rows.
        rows: u32,
        /// Width in pixels.
        width_px: u32,
        /// Height in pixels.
        height_px: u32,
        /// Encoded terminal modes.
        modes: TerminalModes,
    },
    /// `x11-req`: forward X11 connections.
    X11Req {
        /// Forward only one connection.
        single_connection: bool,
        /// Authentication protocol, such as `MIT-MAGIC-COOKIE-1`.
        auth_protocol: &'a str,
        /// Authentication cookie, hex-encoded.
        auth_cookie: &'a str,
        /// X11 screen number.
        screen_number: u32,
    },
    /// `env`: set an environment variable.
    Env {
        /// Variable name.
        name: &'a str,
        /// Variable value (bytes: need not be UTF-8).
        value: &'a [u8],
    },
    /// `shell`: start the user's default shell.
    Shell,
    /// `exec`: run a command.
    Exec {
        /// The command line (bytes: need not be UTF-8).
        command: &'a [u8],
    },
    /// `subsystem`: start a subsystem, such as `sftp`.
    Subsystem {
        /// Subsystem name.
        name: &'a str,
    },
    /// `window-change`: the terminal was resized.
    WindowChange {
        /// Width in characters.
        cols: u32,
        /// Height in rows.
        rows: u32,
        /// Width in pixels.
        width_px: u32,
        /// Height in pixels.
        height_px: u32,
    },
    /// `xon-xoff`: whether the client may do flow control with ^S/^Q.
    XonXoff {
        /// Client can do flow control.
        client_can_do: bool,
    },
    /// `signal`: deliver a signal to the remote process.
    Signal {
        /// Signal name without the `SIG` prefix, such as `INT`.
        name: &'a str,
    },
    /// `exit-status`: the remote command exited.
    ExitStatus {
        /// Exit status.
        status: u32,
    },
    /// `exit-signal`: the remote command was killed by a signal.
    ExitSignal {
        /// Signal name without the `SIG` prefix.
        signal_name: &'a str,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// Error message (UTF-8).
        error_message: &'a str,
        /// Language tag, usually empty.
        language: &'a str,
    },
    /// `keepalive@openssh.com`: no fields; any answer will do.
    KeepAlive,
    /// `auth-agent-req@openssh.com`: forward the authentication agent.
    AuthAgentReq,
    /// Any other request, its fields unparsed.
    Other {
        /// Request type name.
        name: &'a str,
        /// The rest of the payload after `want_reply`.
        data: &'a [u8],
    },
}

impl<'a> ChannelRequestKind<'a> {
    /// The request type name, as on the wire.
    #[must_use]
    pub fn name(&self) -> &'a str {
        match self {
            Self::PtyReq { .. } => PTY_REQ,
            Self::X11Req { .. } => X11_REQ,
            Self::Env { .. } => ENV,
            Self::Shell => SHELL,
            Self::Exec { .. } => EXEC,
            Self::Subsystem { .. } => SUBSYSTEM,
            Self::WindowChange { .. } => WINDOW_CHANGE,
            Self::XonXoff { .. } => XON_XOFF,
            Self::Signal { .. } => SIGNAL,
            Self::ExitStatus { .. } => EXIT_STATUS,
            Self::ExitSignal { .. } => EXIT_SIGNAL,
            Self::KeepAlive => KEEPALIVE,
            Self::AuthAgentReq => AUTH_AGENT_REQ,
            Self::Other { name, .. } => name,
        }
    }

    /// Reads the fields of request type `name`.
    fn decode_fields(name: &'a str, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match name {
            PTY_REQ => Self::PtyReq {
                term: r.utf8("TERM")?,
                cols: r.u32()?,
                rows: r.u32()?,
                width_px: r.u32()?,
                height_px: r.u32()?,
                modes: TerminalModes::parse(r.string()?)?,
            },
            X11_REQ => Self::X11Req {
                single_connection: r.bool()?,
                auth_protocol: r.utf8("X11 authentication protocol")?,
                auth_cookie: r.utf8("X11 authentication cookie")?,
                screen_number: r.u32()?,
            },
            ENV => Self::Env {
                name: r.utf8("variable name")?,
                value: r.string()?,
            },
            SHELL => Self::Shell,
            EXEC => Self::Exec {
                command: r.string()?,
            },
            SUBSYSTEM => Self::Subsystem {
                name: r.utf8("subsystem name")?,
            },
            WINDOW_CHANGE => Self::WindowChange {
                cols: r.u32()?,
                rows: r.u32()?,
                width_px: r.u32()?,
                height_px: r.u32()?,
            },
            XON_XOFF => Self::XonXoff {
                client_can_do: r.bool()?,
            },
            SIGNAL => Self::Signal {
                name: r.utf8("signal name")?,
            },
            EXIT_STATUS => Self::ExitStatus { status: r.u32()? },
            EXIT_SIGNAL => Self::ExitSignal {
                signal_name: r.utf8("signal name")?,
                core_dumped: r.bool()?,
                error_message: r.utf8("error message")?,
                language: r.utf8("language tag")?,
            },
            KEEPALIVE => Self::KeepAlive,
            AUTH_AGENT_REQ => Self::AuthAgentReq,
            _ => Self::Other {
                name,
                data: r.rest(),
            },
        })
    }

    /// Writes the type-specific fields.
    fn encode_fields<W: Writer + ?Sized>(&self, w: &mut W) {
        match self {
            Self::PtyReq {
                term,
                cols,
                rows,
                width_px,
                height_px,
                modes,
            } => {
                w.put_str(term);
                w.put_u32(*cols);
                w.put_u32(*rows);
                w.put_u32(*width_px);
                w.put_u32(*height_px);
                modes.put_string(w);
            }
            Self::X11Req {
                single_connection,
                auth_protocol,
                auth_cookie,
                screen_number,
            } => {
                w.put_bool(*single_connection);
                w.put_str(auth_protocol);
                w.put_str(auth_cookie);
                w.put_u32(*screen_number);
            }
            Self::Env { name, value } => {
                w.put_str(name);
                w.put_string(value);
            }
            Self::Shell | Self::KeepAlive | Self::AuthAgentReq => {}
            Self::Exec { command } => w.put_string(command),
            Self::Subsystem { name } | Self::Signal { name } => w.put_str(name),
            Self::WindowChange {
                cols,
                rows,
                width_px,
                height_px,
            } => {
                w.put_u32(*cols);
                w.put_u32(*rows);
                w.put_u32(*width_px);
                w.put_u32(*height_px);
            }
            Self::XonXoff { client_can_do } => w.put_bool(*client_can_do),
            Self::ExitStatus { status } => w.put_u32(*status),
            Self::ExitSignal {
                signal_name,
                core_dumped,
                error_message,
                language,
            } => {
                w.put_str(signal_name);
                w.put_bool(*core_dumped);
                w.put_str(error_message);
                w.put_str(language);
            }
            Self::Other { data, .. } => w.put_raw(data),
        }
    }
}

/// SSH_MSG_CHANNEL_REQUEST (RFC 4254 §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest<'a> {
    /// The receiver's number for the channel.
    pub recipient_channel: u32,
    /// Whether the sender wants CHANNEL_SUCCESS or CHANNEL_FAILURE back.
    pub want_reply: bool,
    /// The request and its fields.
    pub request: ChannelRequestKind<'a>,
}

impl<'a> ChannelRequest<'a> {
    /// Decodes a CHANNEL_REQUEST payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::CHANNEL_REQUEST, "CHANNEL_REQUEST")?;
        let recipient_channel = r.u32()?;
        let name = r.utf8("request type")?;
        let want_reply = r.bool()?;
        let request = ChannelRequestKind::decode_fields(name, &mut r)?;
        r.finish_with("CHANNEL_REQUEST")?;
        Ok(ChannelRequest {
            recipient_channel,
            want_reply,
            request,
        })
    }
}

impl Encode for ChannelRequest<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_REQUEST);
        w.put_u32(self.recipient_channel);
        w.put_str(self.request.name());
        w.put_bool(self.want_reply);
        self.request.encode_fields(w);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::opcode;
    use super::*;

    #[test]
    fn pty_req_with_modes_layout() {
        // RFC 4254 §6.2: uint32 recipient, "pty-req", want_reply, TERM,
        // cols, rows, width px, height px, string encoded terminal modes.
        let wire = b"\x62\x00\x00\x00\x00\
            \x00\x00\x00\x07pty-req\x01\
            \x00\x00\x00\x05xterm\
            \x00\x00\x00\x50\x00\x00\x00\x18\x00\x00\x00\x00\x00\x00\x00\x00\
            \x00\x00\x00\x0b\
            \x01\x00\x00\x00\x03\
            \x35\x00\x00\x00\x01\
            \x00";
        let msg = ChannelRequest::decode(wire).unwrap();
        let mut modes = TerminalModes::new();
        modes.set(opcode::VINTR, 3);
        modes.set(opcode::ECHO, 1);
        assert_eq!(
            msg,
            ChannelRequest {
                recipient_channel: 0,
                want_reply: true,
                request: ChannelRequestKind::PtyReq {
                    term: "xterm",
                    cols: 80,
                    rows: 24,
                    width_px: 0,
                    height_px: 0,
                    modes,
                },
            }
        );
        assert_eq!(msg.to_vec(), wire);
        for cut in 0..wire.len() {
            assert!(ChannelRequest::decode(&wire[..cut]).is_err());
        }
    }

    #[test]
    fn exec_is_bytes_and_exit_signal_roundtrips() {
        let exec = ChannelRequest {
            recipient_channel: 1,
            want_reply: true,
            request: ChannelRequestKind::Exec {
                command: b"cat \xff",
            },
        };
        assert_eq!(ChannelRequest::decode(&exec.to_vec()).unwrap(), exec);
        let sig = ChannelRequest {
            recipient_channel: 1,
            want_reply: false,
            request: ChannelRequestKind::ExitSignal {
                signal_name: "KILL",
                core_dumped: false,
                error_message: "killed",
                language: "",
            },
        };
        assert_eq!(ChannelRequest::decode(&sig.to_vec()).unwrap(), sig);
        let other = ChannelRequest {
            recipient_channel: 9,
            want_reply: false,
            request: ChannelRequestKind::Other {
                name: "eow@openssh.com",
                data: b"",
            },
        };
        assert_eq!(ChannelRequest::decode(&other.to_vec()).unwrap(), other);
    }
}
