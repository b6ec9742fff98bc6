//! Who owns a UDP port (the client or a hosted application) and the bind protocol the client
//! speaks over its protected call.

use super::client::ClientSession;
use super::Netstack;
use socket_api::msg::{self, BindError, Request};
use socket_api::{DataRegionTooSmall, Region, ServerEnd, UdpApp};

/// Who a bound port belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    Client,
    App,
}

/// The owner of `port`, if it is bound.
pub(super) fn owner(ports: &[Option<(u16, Owner)>], port: u16) -> Option<Owner> {
    ports.iter().flatten().find(|(p, _)| *p == port).map(|(_, o)| *o)
}

impl<'a> Netstack<'a> {
    /// Attaches the client session (its queue region's stack end and its data region).
    pub fn attach_client(&mut self, end: ServerEnd<'a>, data: Region<'a>) -> Result<(), DataRegionTooSmall> {
        self.client = Some(ClientSession::new(end, data)?);
        Ok(())
    }

    /// Sends the client's datagrams from its own slots by reference: the driver session names
    /// its data region as dataspace `ds`.
    pub fn send_client_by_reference(&mut self, ds: u32) {
        self.dev.tx.set_foreign(ds);
    }

    /// Hosts an application in the stack's PD on its port.
    pub fn host_app(&mut self, app: &'a mut dyn UdpApp) -> Result<(), BindError> {
        self.bind(app.port(), Owner::App)?;
        self.app = Some(app);
        Ok(())
    }

    fn bind(&mut self, port: u16, who: Owner) -> Result<(), BindError> {
        match owner(&self.ports, port) {
            Some(o) if o == who && who == Owner::Client => return Ok(()),
            Some(_) => return Err(BindError::InUse),
            None => {}
        }
        let slot = self.ports.iter_mut().find(|p| p.is_none()).ok_or(BindError::TooManyPorts)?;
        *slot = Some((port, who));
        Ok(())
    }

    /// Serves a protected call from the client and returns the reply. Garbage gets a
    /// `BadRequest` reply, never a panic.
    pub fn protected(&mut self, request: &msg::Message) -> msg::Message {
        let req = match Request::decode(request) {
            Ok(r) => r,
            Err(_) => {
                return msg::encode_reply(&Request::Bind { port: 1 }, Err(BindError::BadRequest));
            }
        };
        let result = if self.client.is_none() {
            Err(BindError::BadRequest)
        } else {
            match req {
                Request::Bind { port } => self.bind(port, Owner::Client),
                Request::Unbind { port } => match owner(&self.ports, port) {
                    Some(Owner::Client) => {
                        for p in self.ports.iter_mut() {
                            if matches!(p, Some((q, Owner::Client)) if *q == port) {
                                *p = None;
                            }
                        }
                        Ok(())
                    }
                    _ => Err(BindError::NotBound),
                },
            }
        };
        msg::encode_reply(&req, result)
    }
}
