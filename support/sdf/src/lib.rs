//! Parser and validator for the system file (`system.xml`, Microkit SDF format).
