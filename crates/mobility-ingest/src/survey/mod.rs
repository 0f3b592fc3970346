//! Travel surveys: household, person and trip CSV files read through a [`Mapping`].

pub mod mapping;
pub mod reader;

pub use mapping::Mapping;
pub use reader::{Survey, read};
