//! CRM behaviour over the store: linking rules, system addresses, cases.
//! Owns decisions about records; never talks to the network.

pub mod linking;
