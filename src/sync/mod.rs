//! Background synchronisation with mail servers, and the ingest pipeline.

pub mod ingest;
