//! Keys and values without their types, as tasks carry them between nodes: [`Data`] (a
//! cloneable `Any`), [`Boxed`], the record envelope [`Msg`], and checked downcasts ([`take`],
//! [`peek`]) that report a mismatch as [`StreamsError::Internal`] instead of panicking.

use std::any::Any;

use crate::error::StreamsError;
use crate::record::Headers;

/// A key or value of any DSL type, cloneable without knowing the type.
pub trait Data: Any + Send {
    fn clone_box(&self) -> Boxed;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any + Send + Clone> Data for T {
    fn clone_box(&self) -> Boxed {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

pub type Boxed = Box<dyn Data>;

/// One record between two nodes: the value is `None` for a null value (a tombstone).
pub struct Msg {
    pub key: Boxed,
    pub value: Option<Boxed>,
    pub timestamp: i64,
    pub headers: Headers,
}

impl Msg {
    pub fn duplicate(&self) -> Msg {
        Msg {
            key: self.key.as_ref().clone_box(),
            value: self.value.as_ref().map(|v| v.as_ref().clone_box()),
            timestamp: self.timestamp,
            headers: self.headers.clone(),
        }
    }
}

/// Moves a boxed datum out as `T`.
pub fn take<T: 'static>(b: Boxed) -> Result<T, StreamsError> {
    match b.into_any().downcast::<T>() {
        Ok(t) => Ok(*t),
        Err(_) => Err(type_mismatch::<T>()),
    }
}

/// Borrows a boxed datum as `T`.
pub fn peek<T: 'static>(b: &Boxed) -> Result<&T, StreamsError> {
    b.as_ref()
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(type_mismatch::<T>)
}

fn type_mismatch<T>() -> StreamsError {
    StreamsError::Internal(format!(
        "record type mismatch: expected {}",
        std::any::type_name::<T>()
    ))
}
