//! Built-in key-exchange methods.
