//! Setvars: PD statics whose value the image tool writes into the ELF from the system file
//! (`<setvar symbol="holdoff_us" value="100"/>`, a map's `setvar_vaddr`, a region's physical
//! address). The compiler only sees the initial value, so every read is volatile: it cannot
//! fold the placeholder into the code.
//!
//! ```ignore
//! #[no_mangle]
//! #[used]
//! static holdoff_us: pd::SetVar<u64> = pd::SetVar::new(0);
//! let us = holdoff_us.get();
//! ```
//! or `pd::setvar!(holdoff_us: u64 = 0);`. The image tool writes 8 bytes, so the value type
//! must be 8 bytes wide (checked at compile time).

use core::cell::UnsafeCell;

/// A value patched into the PD image before boot.
#[repr(transparent)]
pub struct SetVar<T: Copy>(UnsafeCell<T>);

// SAFETY: the value is written only by the image tool (before the PD exists) and by the
// initialiser (before the PD runs); the PD only reads it, so sharing is sound.
unsafe impl<T: Copy + Send> Sync for SetVar<T> {}

impl<T: Copy> SetVar<T> {
    /// A setvar with this placeholder (what the PD sees if the system file sets nothing).
    pub const fn new(placeholder: T) -> SetVar<T> {
        const { assert!(core::mem::size_of::<T>() == 8, "a setvar is 8 bytes (the image tool writes a u64)") };
        SetVar(UnsafeCell::new(placeholder))
    }

    /// The value the system file gave.
    pub fn get(&self) -> T {
        // SAFETY: the pointer is valid and aligned (it is our own cell); nothing writes it
        // while the PD runs. Volatile so the placeholder is never constant-folded.
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }
}

/// Declares a setvar static: `pd::setvar!(holdoff_us: u64 = 0);`.
#[macro_export]
macro_rules! setvar {
    ($(#[$m:meta])* $name:ident : $ty:ty = $placeholder:expr) => {
        $(#[$m])*
        #[no_mangle]
        #[used]
        #[allow(non_upper_case_globals)]
        #[link_section = ".data.setvar"]
        static $name: $crate::SetVar<$ty> = $crate::SetVar::new($placeholder);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: SetVar<u64> = SetVar::new(5);
    static B: SetVar<usize> = SetVar::new(0x2000_0000);

    #[test]
    fn reads_the_stored_value() {
        assert_eq!(A.get(), 5);
        assert_eq!(B.get(), 0x2000_0000);
        assert_eq!(core::mem::size_of::<SetVar<u64>>(), 8, "the image tool patches exactly 8 bytes");
    }
}
