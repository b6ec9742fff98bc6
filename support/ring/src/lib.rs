//! Shared-memory SPSC queues (free/active pairs) with the suppressed-notification protocol.
#![no_std]
