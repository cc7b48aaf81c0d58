//! Key names (`enter`, `ctrl+l`, `alt+F2`) and text → X keysyms.
