//! Invocation labels, numbered exactly as seL4 5.0.0 numbers them for our kernel
//! configuration, and the configuration values that numbering depends on.
//!
//! The kernel's `tools/invocation_header_gen.py` emits three enums: `invocation_label`
//! (`InvalidInvocation` = 0, then every `<method>` of `libsel4/include/interfaces/sel4.xml`
//! in file order, a method whose `condition` is false under the configuration being skipped),
//! then `sel4_arch_invocation_label` starting at `nInvocationLabels` with the methods of
//! `sel4_arch_include/x86_64/interfaces/sel4arch.xml`, then `arch_invocation_label` starting at
//! `nSeL4ArchInvocationLabels` with `arch_include/x86/interfaces/sel4arch.xml`. The
//! conditions in 5.0.0 are `CONFIG_MAX_NUM_NODES > 1` (TCB_SetAffinity),
//! `CONFIG_HARDWARE_DEBUG_API` (breakpoints) and `CONFIG_VTX` (EPT, VCPU), so with our
//! configuration ([`config`]) none of those exists. `tests/interface_xml.rs` recomputes the
//! numbering from the kernel's XML and checks every label here.

/// The kernel configuration this crate is built for (support/kernel/config/autoconf.h; the
/// interface test fails if that file disagrees with these values).
pub mod config {
    /// `CONFIG_MAX_NUM_NODES`.
    pub const MAX_NUM_NODES: u64 = 1;
    /// `CONFIG_HARDWARE_DEBUG_API`.
    pub const HARDWARE_DEBUG_API: bool = false;
    /// `CONFIG_VTX`.
    pub const VTX: bool = false;
    /// `CONFIG_HUGE_PAGE` (shifts the numbering of the x86 object types when on).
    pub const HUGE_PAGE: bool = false;
    /// `CONFIG_ROOT_CNODE_SIZE_BITS`: the root task's CNode has 2^16 slots.
    pub const ROOT_CNODE_SIZE_BITS: u32 = 16;
    /// `CONFIG_NUM_PRIORITIES`.
    pub const NUM_PRIORITIES: u32 = 256;
    /// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS`: capacity of bootinfo's untyped list.
    pub const MAX_NUM_BOOTINFO_UNTYPED_CAPS: usize = 167;
}

macro_rules! labels {
    ($($(#[$m:meta])* $name:ident = $num:literal, $id:literal;)*) => {
        /// An invocation label: the message label that selects a kernel method.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum Label {
            $($(#[$m])* $name = $num,)*
        }

        /// Every label with the XML `id` of its method (the C enumerator name).
        pub const LABELS: &[(&str, Label)] = &[$(($id, Label::$name),)*];
    };
}

labels! {
    InvalidInvocation = 0, "InvalidInvocation";
    // libsel4/include/interfaces/sel4.xml
    UntypedRetype = 1, "UntypedRetype";
    TcbReadRegisters = 2, "TCBReadRegisters";
    TcbWriteRegisters = 3, "TCBWriteRegisters";
    TcbCopyRegisters = 4, "TCBCopyRegisters";
    TcbConfigure = 5, "TCBConfigure";
    TcbSetPriority = 6, "TCBSetPriority";
    TcbSetMcPriority = 7, "TCBSetMCPriority";
    TcbSetIpcBuffer = 8, "TCBSetIPCBuffer";
    TcbSetSpace = 9, "TCBSetSpace";
    TcbSuspend = 10, "TCBSuspend";
    TcbResume = 11, "TCBResume";
    TcbBindNotification = 12, "TCBBindNotification";
    TcbUnbindNotification = 13, "TCBUnbindNotification";
    CNodeRevoke = 14, "CNodeRevoke";
    CNodeDelete = 15, "CNodeDelete";
    CNodeCancelBadgedSends = 16, "CNodeCancelBadgedSends";
    CNodeCopy = 17, "CNodeCopy";
    CNodeMint = 18, "CNodeMint";
    CNodeMove = 19, "CNodeMove";
    CNodeMutate = 20, "CNodeMutate";
    CNodeRotate = 21, "CNodeRotate";
    CNodeSaveCaller = 22, "CNodeSaveCaller";
    IrqIssueIrqHandler = 23, "IRQIssueIRQHandler";
    IrqAckIrq = 24, "IRQAckIRQ";
    IrqSetIrqHandler = 25, "IRQSetIRQHandler";
    IrqClearIrqHandler = 26, "IRQClearIRQHandler";
    DomainSetSet = 27, "DomainSetSet";
    // libsel4/sel4_arch_include/x86_64/interfaces/sel4arch.xml (from nInvocationLabels = 28)
    X86PdptMap = 28, "X86PDPTMap";
    X86PdptUnmap = 29, "X86PDPTUnmap";
    // libsel4/arch_include/x86/interfaces/sel4arch.xml (from nSeL4ArchInvocationLabels = 30)
    X86PageDirectoryMap = 30, "X86PageDirectoryMap";
    X86PageDirectoryUnmap = 31, "X86PageDirectoryUnmap";
    X86PageDirectoryGetStatusBits = 32, "X86PageDirectoryGetStatusBits";
    X86PageTableMap = 33, "X86PageTableMap";
    X86PageTableUnmap = 34, "X86PageTableUnmap";
    X86IoPageTableMap = 35, "X86IOPageTableMap";
    X86IoPageTableUnmap = 36, "X86IOPageTableUnmap";
    X86PageMap = 37, "X86PageMap";
    X86PageRemap = 38, "X86PageRemap";
    X86PageUnmap = 39, "X86PageUnmap";
    X86PageMapIo = 40, "X86PageMapIO";
    X86PageGetAddress = 41, "X86PageGetAddress";
    X86AsidControlMakePool = 42, "X86ASIDControlMakePool";
    X86AsidPoolAssign = 43, "X86ASIDPoolAssign";
    X86IoPortIn8 = 44, "X86IOPortIn8";
    X86IoPortIn16 = 45, "X86IOPortIn16";
    X86IoPortIn32 = 46, "X86IOPortIn32";
    X86IoPortOut8 = 47, "X86IOPortOut8";
    X86IoPortOut16 = 48, "X86IOPortOut16";
    X86IoPortOut32 = 49, "X86IOPortOut32";
    X86IrqIssueIrqHandlerIoapic = 50, "X86IRQIssueIRQHandlerIOAPIC";
    X86IrqIssueIrqHandlerMsi = 51, "X86IRQIssueIRQHandlerMSI";
}

impl Label {
    /// The label's number, as put in the message tag.
    pub const fn number(self) -> u64 {
        self as u64
    }
}
