//! Kernel-object invocations: pure message builders (host-testable), the table of methods we
//! implement, and [`invoke`], which performs one with `seL4_Call`.
//!
//! Marshalling follows libsel4's stub generator (`tools/syscall_stub_gen.py`): the service
//! cap is the invoked cptr; every other capability argument becomes an extra cap, in order;
//! the remaining arguments are packed into message words in order, each aligned to its own
//! size (or to a word, whichever is smaller), so e.g. a `bool` and a `u8` share one word.
//! `tests/interface_xml.rs` recomputes every position from the kernel's XML and checks each
//! builder against it.

use crate::error::{Error, InvocationError};
use crate::ipc;
use crate::label::Label;
use crate::types::{CPtr, CapData, CapRights, MessageInfo, ObjectType, PrioProps, UserContext, VmAttributes, Word};

/// Most message words any builder here produces (`TCB_WriteRegisters`: 2 + 19).
pub const MAX_WORDS: usize = 24;

/// A kernel method we implement: its libsel4 name, label and parameters as the XML names them
/// (input parameters without the service cap, in order; then outputs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MethodSpec {
    /// `<interface name>_<method name>`, e.g. `seL4_CNode_Copy`.
    pub name: &'static str,
    pub label: Label,
    pub params: &'static [&'static str],
    pub outputs: &'static [&'static str],
}

/// A marshalled invocation, ready for [`invoke`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub spec: &'static MethodSpec,
    words: [Word; MAX_WORDS],
    len: usize,
    caps: [CPtr; MessageInfo::MAX_EXTRA_CAPS],
    ncaps: usize,
}

impl Invocation {
    /// The message words (MR0, MR1, ...).
    pub fn words(&self) -> &[Word] {
        &self.words[..self.len]
    }
    /// The extra caps, in order.
    pub fn caps(&self) -> &[CPtr] {
        &self.caps[..self.ncaps]
    }
    /// The message tag.
    pub fn info(&self) -> MessageInfo {
        MessageInfo::new(self.spec.label.number(), 0, self.ncaps as Word, self.len as Word)
    }
}

/// Packs arguments as the stub generator does (see the module documentation).
struct Packer {
    inv: Invocation,
    bit: usize,
}

impl Packer {
    const fn new(spec: &'static MethodSpec) -> Self {
        Packer { inv: Invocation { spec, words: [0; MAX_WORDS], len: 0, caps: [CPtr(0); 3], ncaps: 0 }, bit: 0 }
    }

    /// A value of `bits` bits (1, 8, 16, 32 or 64).
    fn field(mut self, v: Word, bits: usize) -> Self {
        let align = if bits < 64 { bits } else { 64 };
        self.bit = self.bit.div_ceil(align) * align;
        let (w, off) = (self.bit / 64, self.bit % 64);
        let v = if bits < 64 { v & ((1 << bits) - 1) } else { v };
        self.inv.words[w] |= v << off;
        self.bit += bits;
        self
    }
    fn word(self, v: Word) -> Self {
        self.field(v, 64)
    }
    fn u8(self, v: u8) -> Self {
        self.field(v as Word, 8)
    }
    fn bool(self, v: bool) -> Self {
        self.field(v as Word, 1)
    }
    fn cap(mut self, c: CPtr) -> Self {
        self.inv.caps[self.inv.ncaps] = c;
        self.inv.ncaps += 1;
        self
    }
    fn done(mut self) -> Invocation {
        self.inv.len = self.bit.div_ceil(64);
        self.inv
    }
}

macro_rules! specs {
    ($($konst:ident = $name:literal, $label:ident, [$($p:literal),*], [$($o:literal),*];)*) => {
        $(
            #[doc = concat!("`", $name, "`")]
            pub const $konst: MethodSpec = MethodSpec {
                name: $name,
                label: Label::$label,
                params: &[$($p),*],
                outputs: &[$($o),*],
            };
        )*
        /// Every method this crate implements.
        pub const METHODS: &[MethodSpec] = &[$($konst),*];
    };
}

specs! {
    UNTYPED_RETYPE = "seL4_Untyped_Retype", UntypedRetype,
        ["type", "size_bits", "root", "node_index", "node_depth", "node_offset", "num_objects"], [];
    TCB_READ_REGISTERS = "seL4_TCB_ReadRegisters", TcbReadRegisters,
        ["suspend_source", "arch_flags", "count"], ["regs"];
    TCB_WRITE_REGISTERS = "seL4_TCB_WriteRegisters", TcbWriteRegisters,
        ["resume_target", "arch_flags", "count", "regs"], [];
    TCB_COPY_REGISTERS = "seL4_TCB_CopyRegisters", TcbCopyRegisters,
        ["source", "suspend_source", "resume_target", "transfer_frame", "transfer_integer", "arch_flags"], [];
    TCB_CONFIGURE = "seL4_TCB_Configure", TcbConfigure,
        ["fault_ep", "priority", "cspace_root", "cspace_root_data", "vspace_root", "vspace_root_data", "buffer", "bufferFrame"], [];
    TCB_SET_PRIORITY = "seL4_TCB_SetPriority", TcbSetPriority, ["priority"], [];
    TCB_SET_MC_PRIORITY = "seL4_TCB_SetMCPriority", TcbSetMcPriority, ["mcp"], [];
    TCB_SET_IPC_BUFFER = "seL4_TCB_SetIPCBuffer", TcbSetIpcBuffer, ["buffer", "bufferFrame"], [];
    TCB_SET_SPACE = "seL4_TCB_SetSpace", TcbSetSpace,
        ["fault_ep", "cspace_root", "cspace_root_data", "vspace_root", "vspace_root_data"], [];
    TCB_SUSPEND = "seL4_TCB_Suspend", TcbSuspend, [], [];
    TCB_RESUME = "seL4_TCB_Resume", TcbResume, [], [];
    TCB_BIND_NOTIFICATION = "seL4_TCB_BindNotification", TcbBindNotification, ["notification"], [];
    TCB_UNBIND_NOTIFICATION = "seL4_TCB_UnbindNotification", TcbUnbindNotification, [], [];
    CNODE_REVOKE = "seL4_CNode_Revoke", CNodeRevoke, ["index", "depth"], [];
    CNODE_DELETE = "seL4_CNode_Delete", CNodeDelete, ["index", "depth"], [];
    CNODE_CANCEL_BADGED_SENDS = "seL4_CNode_CancelBadgedSends", CNodeCancelBadgedSends, ["index", "depth"], [];
    CNODE_COPY = "seL4_CNode_Copy", CNodeCopy,
        ["dest_index", "dest_depth", "src_root", "src_index", "src_depth", "rights"], [];
    CNODE_MINT = "seL4_CNode_Mint", CNodeMint,
        ["dest_index", "dest_depth", "src_root", "src_index", "src_depth", "rights", "badge"], [];
    CNODE_MOVE = "seL4_CNode_Move", CNodeMove,
        ["dest_index", "dest_depth", "src_root", "src_index", "src_depth"], [];
    CNODE_MUTATE = "seL4_CNode_Mutate", CNodeMutate,
        ["dest_index", "dest_depth", "src_root", "src_index", "src_depth", "badge"], [];
    CNODE_ROTATE = "seL4_CNode_Rotate", CNodeRotate,
        ["dest_index", "dest_depth", "dest_badge", "pivot_root", "pivot_index", "pivot_depth",
         "pivot_badge", "src_root", "src_index", "src_depth"], [];
    CNODE_SAVE_CALLER = "seL4_CNode_SaveCaller", CNodeSaveCaller, ["index", "depth"], [];
    IRQ_CONTROL_GET = "seL4_IRQControl_Get", IrqIssueIrqHandler, ["irq", "root", "index", "depth"], [];
    IRQ_HANDLER_ACK = "seL4_IRQHandler_Ack", IrqAckIrq, [], [];
    IRQ_HANDLER_SET_NOTIFICATION = "seL4_IRQHandler_SetNotification", IrqSetIrqHandler, ["notification"], [];
    IRQ_HANDLER_CLEAR = "seL4_IRQHandler_Clear", IrqClearIrqHandler, [], [];
    DOMAIN_SET_SET = "seL4_DomainSet_Set", DomainSetSet, ["domain", "thread"], [];
    X86_PDPT_MAP = "seL4_X86_PDPT_Map", X86PdptMap, ["pml4", "vaddr", "attr"], [];
    X86_PDPT_UNMAP = "seL4_X86_PDPT_Unmap", X86PdptUnmap, [], [];
    X86_PAGE_DIRECTORY_MAP = "seL4_X86_PageDirectory_Map", X86PageDirectoryMap, ["vroot", "vaddr", "attr"], [];
    X86_PAGE_DIRECTORY_UNMAP = "seL4_X86_PageDirectory_Unmap", X86PageDirectoryUnmap, [], [];
    X86_PAGE_DIRECTORY_GET_STATUS_BITS = "seL4_X86_PageDirectory_GetStatusBits", X86PageDirectoryGetStatusBits,
        ["vaddr"], ["accessed", "dirty"];
    X86_PAGE_TABLE_MAP = "seL4_X86_PageTable_Map", X86PageTableMap, ["vroot", "vaddr", "attr"], [];
    X86_PAGE_TABLE_UNMAP = "seL4_X86_PageTable_Unmap", X86PageTableUnmap, [], [];
    X86_IO_PAGE_TABLE_MAP = "seL4_X86_IOPageTable_Map", X86IoPageTableMap, ["iospace", "ioaddr"], [];
    X86_IO_PAGE_TABLE_UNMAP = "seL4_X86_IOPageTable_Unmap", X86IoPageTableUnmap, [], [];
    X86_PAGE_MAP = "seL4_X86_Page_Map", X86PageMap, ["vroot", "vaddr", "rights", "attr"], [];
    X86_PAGE_REMAP = "seL4_X86_Page_Remap", X86PageRemap, ["vroot", "rights", "attr"], [];
    X86_PAGE_UNMAP = "seL4_X86_Page_Unmap", X86PageUnmap, [], [];
    X86_PAGE_MAP_IO = "seL4_X86_Page_MapIO", X86PageMapIo, ["iospace", "rights", "ioaddr"], [];
    X86_PAGE_GET_ADDRESS = "seL4_X86_Page_GetAddress", X86PageGetAddress, [], ["paddr"];
    X86_ASID_CONTROL_MAKE_POOL = "seL4_X86_ASIDControl_MakePool", X86AsidControlMakePool,
        ["untyped", "root", "index", "depth"], [];
    X86_ASID_POOL_ASSIGN = "seL4_X86_ASIDPool_Assign", X86AsidPoolAssign, ["vroot"], [];
    X86_IO_PORT_IN8 = "seL4_X86_IOPort_In8", X86IoPortIn8, ["port"], ["result"];
    X86_IO_PORT_IN16 = "seL4_X86_IOPort_In16", X86IoPortIn16, ["port"], ["result"];
    X86_IO_PORT_IN32 = "seL4_X86_IOPort_In32", X86IoPortIn32, ["port"], ["result"];
    X86_IO_PORT_OUT8 = "seL4_X86_IOPort_Out8", X86IoPortOut8, ["port", "data"], [];
    X86_IO_PORT_OUT16 = "seL4_X86_IOPort_Out16", X86IoPortOut16, ["port", "data"], [];
    X86_IO_PORT_OUT32 = "seL4_X86_IOPort_Out32", X86IoPortOut32, ["port", "data"], [];
    IRQ_CONTROL_GET_IOAPIC = "seL4_IRQControl_GetIOAPIC", X86IrqIssueIrqHandlerIoapic,
        ["root", "index", "depth", "ioapic", "pin", "level", "polarity", "vector"], [];
    IRQ_CONTROL_GET_MSI = "seL4_IRQControl_GetMSI", X86IrqIssueIrqHandlerMsi,
        ["root", "index", "depth", "pci_bus", "pci_dev", "pci_func", "handle", "vector"], [];
}

/// Pure message builders, one per method, taking the arguments in the XML's order.
pub mod msg {
    use super::*;

    pub fn untyped_retype(
        ty: ObjectType,
        size_bits: Word,
        root: CPtr,
        node_index: Word,
        node_depth: Word,
        node_offset: Word,
        num_objects: Word,
    ) -> Invocation {
        Packer::new(&UNTYPED_RETYPE)
            .word(ty as Word)
            .word(size_bits)
            .cap(root)
            .word(node_index)
            .word(node_depth)
            .word(node_offset)
            .word(num_objects)
            .done()
    }

    pub fn tcb_read_registers(suspend_source: bool, arch_flags: u8, count: Word) -> Invocation {
        Packer::new(&TCB_READ_REGISTERS).bool(suspend_source).u8(arch_flags).word(count).done()
    }

    pub fn tcb_write_registers(resume_target: bool, arch_flags: u8, count: Word, regs: &UserContext) -> Invocation {
        let mut p = Packer::new(&TCB_WRITE_REGISTERS).bool(resume_target).u8(arch_flags).word(count);
        for w in regs.to_words() {
            p = p.word(w);
        }
        p.done()
    }

    pub fn tcb_copy_registers(
        source: CPtr,
        suspend_source: bool,
        resume_target: bool,
        transfer_frame: bool,
        transfer_integer: bool,
        arch_flags: u8,
    ) -> Invocation {
        Packer::new(&TCB_COPY_REGISTERS)
            .cap(source)
            .bool(suspend_source)
            .bool(resume_target)
            .bool(transfer_frame)
            .bool(transfer_integer)
            .u8(arch_flags)
            .done()
    }

    /// `fault_ep` is a cptr in the configured thread's own CSpace, passed as a plain word.
    #[allow(clippy::too_many_arguments)]
    pub fn tcb_configure(
        fault_ep: CPtr,
        priority: PrioProps,
        cspace_root: CPtr,
        cspace_root_data: CapData,
        vspace_root: CPtr,
        vspace_root_data: CapData,
        buffer: Word,
        buffer_frame: CPtr,
    ) -> Invocation {
        Packer::new(&TCB_CONFIGURE)
            .word(fault_ep.0)
            .word(priority.0)
            .cap(cspace_root)
            .word(cspace_root_data.0)
            .cap(vspace_root)
            .word(vspace_root_data.0)
            .word(buffer)
            .cap(buffer_frame)
            .done()
    }

    pub fn tcb_set_priority(priority: u8) -> Invocation {
        Packer::new(&TCB_SET_PRIORITY).u8(priority).done()
    }

    pub fn tcb_set_mc_priority(mcp: u8) -> Invocation {
        Packer::new(&TCB_SET_MC_PRIORITY).u8(mcp).done()
    }

    pub fn tcb_set_ipc_buffer(buffer: Word, buffer_frame: CPtr) -> Invocation {
        Packer::new(&TCB_SET_IPC_BUFFER).word(buffer).cap(buffer_frame).done()
    }

    pub fn tcb_set_space(
        fault_ep: CPtr,
        cspace_root: CPtr,
        cspace_root_data: CapData,
        vspace_root: CPtr,
        vspace_root_data: CapData,
    ) -> Invocation {
        Packer::new(&TCB_SET_SPACE)
            .word(fault_ep.0)
            .cap(cspace_root)
            .word(cspace_root_data.0)
            .cap(vspace_root)
            .word(vspace_root_data.0)
            .done()
    }

    pub fn tcb_suspend() -> Invocation {
        Packer::new(&TCB_SUSPEND).done()
    }

    pub fn tcb_resume() -> Invocation {
        Packer::new(&TCB_RESUME).done()
    }

    pub fn tcb_bind_notification(notification: CPtr) -> Invocation {
        Packer::new(&TCB_BIND_NOTIFICATION).cap(notification).done()
    }

    pub fn tcb_unbind_notification() -> Invocation {
        Packer::new(&TCB_UNBIND_NOTIFICATION).done()
    }

    pub fn cnode_revoke(index: Word, depth: u8) -> Invocation {
        Packer::new(&CNODE_REVOKE).word(index).u8(depth).done()
    }

    pub fn cnode_delete(index: Word, depth: u8) -> Invocation {
        Packer::new(&CNODE_DELETE).word(index).u8(depth).done()
    }

    pub fn cnode_cancel_badged_sends(index: Word, depth: u8) -> Invocation {
        Packer::new(&CNODE_CANCEL_BADGED_SENDS).word(index).u8(depth).done()
    }

    pub fn cnode_copy(
        dest_index: Word,
        dest_depth: u8,
        src_root: CPtr,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
    ) -> Invocation {
        Packer::new(&CNODE_COPY)
            .word(dest_index)
            .u8(dest_depth)
            .cap(src_root)
            .word(src_index)
            .u8(src_depth)
            .word(rights.0)
            .done()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn cnode_mint(
        dest_index: Word,
        dest_depth: u8,
        src_root: CPtr,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
        badge: CapData,
    ) -> Invocation {
        Packer::new(&CNODE_MINT)
            .word(dest_index)
            .u8(dest_depth)
            .cap(src_root)
            .word(src_index)
            .u8(src_depth)
            .word(rights.0)
            .word(badge.0)
            .done()
    }

    pub fn cnode_move(dest_index: Word, dest_depth: u8, src_root: CPtr, src_index: Word, src_depth: u8) -> Invocation {
        Packer::new(&CNODE_MOVE).word(dest_index).u8(dest_depth).cap(src_root).word(src_index).u8(src_depth).done()
    }

    pub fn cnode_mutate(
        dest_index: Word,
        dest_depth: u8,
        src_root: CPtr,
        src_index: Word,
        src_depth: u8,
        badge: CapData,
    ) -> Invocation {
        Packer::new(&CNODE_MUTATE)
            .word(dest_index)
            .u8(dest_depth)
            .cap(src_root)
            .word(src_index)
            .u8(src_depth)
            .word(badge.0)
            .done()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn cnode_rotate(
        dest_index: Word,
        dest_depth: u8,
        dest_badge: CapData,
        pivot_root: CPtr,
        pivot_index: Word,
        pivot_depth: u8,
        pivot_badge: CapData,
        src_root: CPtr,
        src_index: Word,
        src_depth: u8,
    ) -> Invocation {
        Packer::new(&CNODE_ROTATE)
            .word(dest_index)
            .u8(dest_depth)
            .word(dest_badge.0)
            .cap(pivot_root)
            .word(pivot_index)
            .u8(pivot_depth)
            .word(pivot_badge.0)
            .cap(src_root)
            .word(src_index)
            .u8(src_depth)
            .done()
    }

    pub fn cnode_save_caller(index: Word, depth: u8) -> Invocation {
        Packer::new(&CNODE_SAVE_CALLER).word(index).u8(depth).done()
    }

    pub fn irq_control_get(irq: i32, root: CPtr, index: Word, depth: u8) -> Invocation {
        Packer::new(&IRQ_CONTROL_GET).field(irq as u32 as Word, 32).cap(root).word(index).u8(depth).done()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn irq_control_get_ioapic(
        root: CPtr,
        index: Word,
        depth: Word,
        ioapic: Word,
        pin: Word,
        level: Word,
        polarity: Word,
        vector: Word,
    ) -> Invocation {
        Packer::new(&IRQ_CONTROL_GET_IOAPIC)
            .cap(root)
            .word(index)
            .word(depth)
            .word(ioapic)
            .word(pin)
            .word(level)
            .word(polarity)
            .word(vector)
            .done()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn irq_control_get_msi(
        root: CPtr,
        index: Word,
        depth: Word,
        pci_bus: Word,
        pci_dev: Word,
        pci_func: Word,
        handle: Word,
        vector: Word,
    ) -> Invocation {
        Packer::new(&IRQ_CONTROL_GET_MSI)
            .cap(root)
            .word(index)
            .word(depth)
            .word(pci_bus)
            .word(pci_dev)
            .word(pci_func)
            .word(handle)
            .word(vector)
            .done()
    }

    pub fn irq_handler_ack() -> Invocation {
        Packer::new(&IRQ_HANDLER_ACK).done()
    }

    pub fn irq_handler_set_notification(notification: CPtr) -> Invocation {
        Packer::new(&IRQ_HANDLER_SET_NOTIFICATION).cap(notification).done()
    }

    pub fn irq_handler_clear() -> Invocation {
        Packer::new(&IRQ_HANDLER_CLEAR).done()
    }

    pub fn domain_set_set(domain: u8, thread: CPtr) -> Invocation {
        Packer::new(&DOMAIN_SET_SET).u8(domain).cap(thread).done()
    }

    pub fn x86_pdpt_map(pml4: CPtr, vaddr: Word, attr: VmAttributes) -> Invocation {
        Packer::new(&X86_PDPT_MAP).cap(pml4).word(vaddr).word(attr as Word).done()
    }

    pub fn x86_pdpt_unmap() -> Invocation {
        Packer::new(&X86_PDPT_UNMAP).done()
    }

    pub fn x86_page_directory_map(vroot: CPtr, vaddr: Word, attr: VmAttributes) -> Invocation {
        Packer::new(&X86_PAGE_DIRECTORY_MAP).cap(vroot).word(vaddr).word(attr as Word).done()
    }

    pub fn x86_page_directory_unmap() -> Invocation {
        Packer::new(&X86_PAGE_DIRECTORY_UNMAP).done()
    }

    pub fn x86_page_directory_get_status_bits(vaddr: Word) -> Invocation {
        Packer::new(&X86_PAGE_DIRECTORY_GET_STATUS_BITS).word(vaddr).done()
    }

    pub fn x86_page_table_map(vroot: CPtr, vaddr: Word, attr: VmAttributes) -> Invocation {
        Packer::new(&X86_PAGE_TABLE_MAP).cap(vroot).word(vaddr).word(attr as Word).done()
    }

    pub fn x86_page_table_unmap() -> Invocation {
        Packer::new(&X86_PAGE_TABLE_UNMAP).done()
    }

    pub fn x86_io_page_table_map(iospace: CPtr, ioaddr: Word) -> Invocation {
        Packer::new(&X86_IO_PAGE_TABLE_MAP).cap(iospace).word(ioaddr).done()
    }

    pub fn x86_io_page_table_unmap() -> Invocation {
        Packer::new(&X86_IO_PAGE_TABLE_UNMAP).done()
    }

    pub fn x86_page_map(vroot: CPtr, vaddr: Word, rights: CapRights, attr: VmAttributes) -> Invocation {
        Packer::new(&X86_PAGE_MAP).cap(vroot).word(vaddr).word(rights.0).word(attr as Word).done()
    }

    pub fn x86_page_remap(vroot: CPtr, rights: CapRights, attr: VmAttributes) -> Invocation {
        Packer::new(&X86_PAGE_REMAP).cap(vroot).word(rights.0).word(attr as Word).done()
    }

    pub fn x86_page_unmap() -> Invocation {
        Packer::new(&X86_PAGE_UNMAP).done()
    }

    pub fn x86_page_map_io(iospace: CPtr, rights: CapRights, ioaddr: Word) -> Invocation {
        Packer::new(&X86_PAGE_MAP_IO).cap(iospace).word(rights.0).word(ioaddr).done()
    }

    pub fn x86_page_get_address() -> Invocation {
        Packer::new(&X86_PAGE_GET_ADDRESS).done()
    }

    pub fn x86_asid_control_make_pool(untyped: CPtr, root: CPtr, index: Word, depth: u8) -> Invocation {
        Packer::new(&X86_ASID_CONTROL_MAKE_POOL).cap(untyped).cap(root).word(index).u8(depth).done()
    }

    pub fn x86_asid_pool_assign(vroot: CPtr) -> Invocation {
        Packer::new(&X86_ASID_POOL_ASSIGN).cap(vroot).done()
    }

    pub fn x86_io_port_in8(port: u16) -> Invocation {
        Packer::new(&X86_IO_PORT_IN8).field(port as Word, 16).done()
    }

    pub fn x86_io_port_in16(port: u16) -> Invocation {
        Packer::new(&X86_IO_PORT_IN16).field(port as Word, 16).done()
    }

    pub fn x86_io_port_in32(port: u16) -> Invocation {
        Packer::new(&X86_IO_PORT_IN32).field(port as Word, 16).done()
    }

    pub fn x86_io_port_out8(port: u16, data: u8) -> Invocation {
        Packer::new(&X86_IO_PORT_OUT8).word(port as Word).word(data as Word).done()
    }

    pub fn x86_io_port_out16(port: u16, data: u16) -> Invocation {
        Packer::new(&X86_IO_PORT_OUT16).word(port as Word).word(data as Word).done()
    }

    pub fn x86_io_port_out32(port: u16, data: u32) -> Invocation {
        Packer::new(&X86_IO_PORT_OUT32).word(port as Word).word(data as Word).done()
    }
}

/// Performs an invocation on `service` with `seL4_Call`. On success returns the reply's
/// message registers 0..3 (the outputs of the methods that have any).
pub fn invoke(service: CPtr, inv: &Invocation) -> Result<[Word; 4], InvocationError> {
    let words = inv.words();
    let mut regs = [0; 4];
    let n = words.len().min(4);
    regs[..n].copy_from_slice(&words[..n]);
    if words.len() > 4 {
        // Cannot fail: MAX_WORDS is below the 120 message registers.
        let _ = ipc::write_mrs(4, &words[4..]);
    }
    for (i, c) in inv.caps().iter().enumerate() {
        // Cannot fail: an Invocation holds at most 3 caps.
        let _ = ipc::set_cap(i, *c);
    }
    let (reply, mrs) = crate::syscall::call(service, inv.info(), regs);
    match Error::from_label(reply.label()) {
        None => Ok(mrs),
        Some(error) => Err(InvocationError { method: inv.spec.name, error, detail: [mrs[0], mrs[1]] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_shares_words_like_the_generator() {
        // bool at bit 0, u8 aligned to bit 8, then a word.
        let inv = msg::tcb_read_registers(true, 0xab, 19);
        assert_eq!(inv.words(), &[1 | (0xab << 8), 19]);
        assert_eq!(inv.info().label(), Label::TcbReadRegisters.number());
        // Four bools then a u8: bits 0..3 and 8..15.
        let inv = msg::tcb_copy_registers(CPtr(9), true, false, true, true, 0x5);
        assert_eq!(inv.words(), &[0b1101 | (0x5 << 8)]);
        assert_eq!(inv.caps(), &[CPtr(9)]);
        assert_eq!(inv.info().extra_caps(), 1);
        assert_eq!(inv.info().length(), 1);
    }

    #[test]
    fn every_spec_is_listed_once() {
        for (i, a) in METHODS.iter().enumerate() {
            for b in &METHODS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.label, b.label);
            }
        }
    }
}
