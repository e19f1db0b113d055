//! Built-in compression methods.
