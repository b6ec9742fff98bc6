//! Typed capabilities: one newtype per kernel object type, whose methods perform that
//! object's invocations, plus the root task's initial capabilities.
//!
//! The types only document intent (the kernel checks the real type of every cap and answers
//! `InvalidCapability` on a mismatch); they keep a page cap from being passed where a CNode
//! is expected by accident.

use crate::error::InvocationError;
use crate::invocation::{invoke, msg};
use crate::ipc;
use crate::syscall;
use crate::types::{Badge, CPtr, CapData, CapRights, ObjectType, PrioProps, UserContext, VmAttributes, Word};

macro_rules! cap_types {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        #[repr(transparent)]
        pub struct $name(pub CPtr);
        impl $name {
            /// The underlying capability pointer.
            pub const fn cptr(self) -> CPtr {
                self.0
            }
        }
        impl From<$name> for CPtr {
            fn from(c: $name) -> CPtr {
                c.0
            }
        }
    )*};
}

cap_types! {
    /// Untyped memory, retyped into kernel objects.
    Untyped;
    /// A thread control block.
    Tcb;
    /// A CNode (capability table).
    CNode;
    /// An IPC endpoint.
    Endpoint;
    /// A notification object (binary semaphore set).
    Notification;
    /// The single IRQ-control capability.
    IrqControl;
    /// The right to handle one interrupt.
    IrqHandler;
    /// The domain-scheduler control capability.
    DomainSet;
    /// A PML4: the root of an x86_64 address space.
    Pml4;
    /// A page-directory-pointer table (1 GiB per entry).
    Pdpt;
    /// A page directory (2 MiB per entry).
    PageDirectory;
    /// A page table (4 KiB per entry).
    PageTable;
    /// A 4 KiB or 2 MiB frame.
    Page;
    /// The ASID-control capability.
    AsidControl;
    /// An ASID pool.
    AsidPool;
    /// A range of x86 I/O ports.
    IoPort;
    /// The IOMMU (VT-d) address space of the PCI devices.
    IoSpace;
    /// An IOMMU page table.
    IoPageTable;
}

/// The capabilities the kernel gives the root task, at fixed slots (`bootinfo_types.h`).
pub mod init {
    use super::*;
    pub const TCB: Tcb = Tcb(CPtr(1));
    pub const CNODE: CNode = CNode(CPtr(2));
    pub const VSPACE: Pml4 = Pml4(CPtr(3));
    pub const IRQ_CONTROL: IrqControl = IrqControl(CPtr(4));
    pub const ASID_CONTROL: AsidControl = AsidControl(CPtr(5));
    pub const ASID_POOL: AsidPool = AsidPool(CPtr(6));
    /// All I/O ports (null if the platform has none).
    pub const IO_PORT: IoPort = IoPort(CPtr(7));
    /// The IOMMU space (null if the kernel has no IOMMU support or found none).
    pub const IO_SPACE: IoSpace = IoSpace(CPtr(8));
    pub const BOOT_INFO_FRAME: Page = Page(CPtr(9));
    pub const IPC_BUFFER: Page = Page(CPtr(10));
    pub const DOMAIN: DomainSet = DomainSet(CPtr(11));
    /// `seL4_NumInitialCaps`: the first slot after the fixed ones.
    pub const NUM_INITIAL_CAPS: u64 = 12;
}

type R<T = ()> = Result<T, InvocationError>;

fn done(r: Result<[Word; 4], InvocationError>) -> R {
    r.map(|_| ())
}

impl Untyped {
    /// Creates `num_objects` objects of `ty` in `root`'s CNode at `node_index`/`node_depth`
    /// (0/0 for `root` itself), slots `node_offset..`.
    #[allow(clippy::too_many_arguments)]
    pub fn retype(
        self,
        ty: ObjectType,
        size_bits: Word,
        root: CNode,
        node_index: Word,
        node_depth: Word,
        node_offset: Word,
        num_objects: Word,
    ) -> R {
        done(invoke(
            self.0,
            &msg::untyped_retype(ty, size_bits, root.0, node_index, node_depth, node_offset, num_objects),
        ))
    }
}

impl Tcb {
    /// Reads the first `count` registers (at most [`UserContext::WORDS`]).
    pub fn read_registers(self, suspend_source: bool, count: Word) -> R<UserContext> {
        let regs = invoke(self.0, &msg::tcb_read_registers(suspend_source, 0, count))?;
        let mut w = [0; UserContext::WORDS];
        w[..4].copy_from_slice(&regs);
        for (i, x) in w.iter_mut().enumerate().skip(4) {
            *x = ipc::get_mr(i).unwrap_or(0);
        }
        Ok(UserContext::from_words(&w))
    }

    /// Writes the first `count` registers, optionally resuming the thread.
    pub fn write_registers(self, resume_target: bool, count: Word, regs: &UserContext) -> R {
        done(invoke(self.0, &msg::tcb_write_registers(resume_target, 0, count, regs)))
    }

    /// Sets fault endpoint (a cptr in the thread's own CSpace), priorities, CSpace, VSpace and
    /// IPC buffer in one call.
    #[allow(clippy::too_many_arguments)]
    pub fn configure(
        self,
        fault_ep: CPtr,
        priority: PrioProps,
        cspace_root: CNode,
        cspace_root_data: CapData,
        vspace_root: Pml4,
        vspace_root_data: CapData,
        buffer: Word,
        buffer_frame: Page,
    ) -> R {
        done(invoke(
            self.0,
            &msg::tcb_configure(
                fault_ep,
                priority,
                cspace_root.0,
                cspace_root_data,
                vspace_root.0,
                vspace_root_data,
                buffer,
                buffer_frame.0,
            ),
        ))
    }

    pub fn set_priority(self, priority: u8) -> R {
        done(invoke(self.0, &msg::tcb_set_priority(priority)))
    }

    pub fn set_mc_priority(self, mcp: u8) -> R {
        done(invoke(self.0, &msg::tcb_set_mc_priority(mcp)))
    }

    /// seL4 5.0 (non-MCS) has no `TCB_SetSchedParams`; this sets the maximum controlled
    /// priority, then the priority (two invocations; the invoker's own MCP bounds both).
    pub fn set_sched_params(self, mcp: u8, priority: u8) -> R {
        self.set_mc_priority(mcp)?;
        self.set_priority(priority)
    }

    pub fn set_ipc_buffer(self, buffer: Word, buffer_frame: Page) -> R {
        done(invoke(self.0, &msg::tcb_set_ipc_buffer(buffer, buffer_frame.0)))
    }

    pub fn set_space(
        self,
        fault_ep: CPtr,
        cspace_root: CNode,
        cspace_root_data: CapData,
        vspace_root: Pml4,
        vspace_root_data: CapData,
    ) -> R {
        done(invoke(
            self.0,
            &msg::tcb_set_space(fault_ep, cspace_root.0, cspace_root_data, vspace_root.0, vspace_root_data),
        ))
    }

    pub fn suspend(self) -> R {
        done(invoke(self.0, &msg::tcb_suspend()))
    }

    pub fn resume(self) -> R {
        done(invoke(self.0, &msg::tcb_resume()))
    }

    pub fn bind_notification(self, notification: Notification) -> R {
        done(invoke(self.0, &msg::tcb_bind_notification(notification.0)))
    }

    pub fn unbind_notification(self) -> R {
        done(invoke(self.0, &msg::tcb_unbind_notification()))
    }
}

/// A slot named relative to a CNode: `index` resolved with `depth` bits (use depth 64 with a
/// root CNode whose guard covers the rest of the word, as the root task's does).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub root: CNode,
    pub index: Word,
    pub depth: u8,
}

impl CNode {
    /// The slot `index` of this CNode, addressed with a full-word depth (64).
    pub const fn slot(self, index: Word) -> Slot {
        Slot { root: self, index, depth: 64 }
    }

    pub fn revoke(self, index: Word, depth: u8) -> R {
        done(invoke(self.0, &msg::cnode_revoke(index, depth)))
    }

    pub fn delete(self, index: Word, depth: u8) -> R {
        done(invoke(self.0, &msg::cnode_delete(index, depth)))
    }

    pub fn cancel_badged_sends(self, index: Word, depth: u8) -> R {
        done(invoke(self.0, &msg::cnode_cancel_badged_sends(index, depth)))
    }

    /// Copies `src` into this CNode's `dest_index`, with `rights` masked in.
    pub fn copy(self, dest_index: Word, dest_depth: u8, src: Slot, rights: CapRights) -> R {
        done(invoke(self.0, &msg::cnode_copy(dest_index, dest_depth, src.root.0, src.index, src.depth, rights)))
    }

    /// Copies `src` with `rights` masked in and `data` applied (badge, guard or port range).
    pub fn mint(self, dest_index: Word, dest_depth: u8, src: Slot, rights: CapRights, data: CapData) -> R {
        done(invoke(self.0, &msg::cnode_mint(dest_index, dest_depth, src.root.0, src.index, src.depth, rights, data)))
    }

    pub fn move_(self, dest_index: Word, dest_depth: u8, src: Slot) -> R {
        done(invoke(self.0, &msg::cnode_move(dest_index, dest_depth, src.root.0, src.index, src.depth)))
    }

    pub fn mutate(self, dest_index: Word, dest_depth: u8, src: Slot, data: CapData) -> R {
        done(invoke(self.0, &msg::cnode_mutate(dest_index, dest_depth, src.root.0, src.index, src.depth, data)))
    }

    pub fn save_caller(self, index: Word, depth: u8) -> R {
        done(invoke(self.0, &msg::cnode_save_caller(index, depth)))
    }
}

impl IrqControl {
    /// Creates a handler cap for an IOAPIC pin, delivered at CPU vector 0x30 + `vector`.
    /// `level` 1 = level-triggered, `polarity` 1 = active low.
    #[allow(clippy::too_many_arguments)]
    pub fn get_ioapic(self, dest: Slot, ioapic: Word, pin: Word, level: Word, polarity: Word, vector: Word) -> R {
        done(invoke(
            self.0,
            &msg::irq_control_get_ioapic(
                dest.root.0,
                dest.index,
                dest.depth as Word,
                ioapic,
                pin,
                level,
                polarity,
                vector,
            ),
        ))
    }

    /// Creates a handler cap for an MSI of PCI device `bus:dev.func`.
    #[allow(clippy::too_many_arguments)]
    pub fn get_msi(self, dest: Slot, bus: Word, dev: Word, func: Word, handle: Word, vector: Word) -> R {
        done(invoke(
            self.0,
            &msg::irq_control_get_msi(dest.root.0, dest.index, dest.depth as Word, bus, dev, func, handle, vector),
        ))
    }
}

impl IrqHandler {
    /// Unmasks the interrupt after it was handled.
    pub fn ack(self) -> R {
        done(invoke(self.0, &msg::irq_handler_ack()))
    }
    /// Delivers the interrupt as a signal on `notification`.
    pub fn set_notification(self, notification: Notification) -> R {
        done(invoke(self.0, &msg::irq_handler_set_notification(notification.0)))
    }
    pub fn clear(self) -> R {
        done(invoke(self.0, &msg::irq_handler_clear()))
    }
}

impl DomainSet {
    pub fn set(self, domain: u8, thread: Tcb) -> R {
        done(invoke(self.0, &msg::domain_set_set(domain, thread.0)))
    }
}

impl Pdpt {
    pub fn map(self, pml4: Pml4, vaddr: Word, attr: VmAttributes) -> R {
        done(invoke(self.0, &msg::x86_pdpt_map(pml4.0, vaddr, attr)))
    }
    pub fn unmap(self) -> R {
        done(invoke(self.0, &msg::x86_pdpt_unmap()))
    }
}

impl PageDirectory {
    pub fn map(self, vroot: Pml4, vaddr: Word, attr: VmAttributes) -> R {
        done(invoke(self.0, &msg::x86_page_directory_map(vroot.0, vaddr, attr)))
    }
    pub fn unmap(self) -> R {
        done(invoke(self.0, &msg::x86_page_directory_unmap()))
    }
}

impl PageTable {
    pub fn map(self, vroot: Pml4, vaddr: Word, attr: VmAttributes) -> R {
        done(invoke(self.0, &msg::x86_page_table_map(vroot.0, vaddr, attr)))
    }
    pub fn unmap(self) -> R {
        done(invoke(self.0, &msg::x86_page_table_unmap()))
    }
}

impl IoPageTable {
    pub fn map(self, iospace: IoSpace, ioaddr: Word) -> R {
        done(invoke(self.0, &msg::x86_io_page_table_map(iospace.0, ioaddr)))
    }
    pub fn unmap(self) -> R {
        done(invoke(self.0, &msg::x86_io_page_table_unmap()))
    }
}

impl Page {
    pub fn map(self, vroot: Pml4, vaddr: Word, rights: CapRights, attr: VmAttributes) -> R {
        done(invoke(self.0, &msg::x86_page_map(vroot.0, vaddr, rights, attr)))
    }
    pub fn remap(self, vroot: Pml4, rights: CapRights, attr: VmAttributes) -> R {
        done(invoke(self.0, &msg::x86_page_remap(vroot.0, rights, attr)))
    }
    pub fn unmap(self) -> R {
        done(invoke(self.0, &msg::x86_page_unmap()))
    }
    /// Maps the frame into the IOMMU space at device address `ioaddr`.
    pub fn map_io(self, iospace: IoSpace, rights: CapRights, ioaddr: Word) -> R {
        done(invoke(self.0, &msg::x86_page_map_io(iospace.0, rights, ioaddr)))
    }
    /// The frame's physical address.
    pub fn get_address(self) -> R<Word> {
        invoke(self.0, &msg::x86_page_get_address()).map(|m| m[0])
    }
}

impl AsidControl {
    /// Turns a 4 KiB untyped into an ASID pool at `dest`.
    pub fn make_pool(self, untyped: Untyped, dest: Slot) -> R {
        done(invoke(self.0, &msg::x86_asid_control_make_pool(untyped.0, dest.root.0, dest.index, dest.depth)))
    }
}

impl AsidPool {
    /// Gives the address space `vroot` an ASID from this pool (needed before mapping into it).
    pub fn assign(self, vroot: Pml4) -> R {
        done(invoke(self.0, &msg::x86_asid_pool_assign(vroot.0)))
    }
}

impl IoPort {
    pub fn in8(self, port: u16) -> R<u8> {
        invoke(self.0, &msg::x86_io_port_in8(port)).map(|m| m[0] as u8)
    }
    pub fn in16(self, port: u16) -> R<u16> {
        invoke(self.0, &msg::x86_io_port_in16(port)).map(|m| m[0] as u16)
    }
    pub fn in32(self, port: u16) -> R<u32> {
        invoke(self.0, &msg::x86_io_port_in32(port)).map(|m| m[0] as u32)
    }
    pub fn out8(self, port: u16, data: u8) -> R {
        done(invoke(self.0, &msg::x86_io_port_out8(port, data)))
    }
    pub fn out16(self, port: u16, data: u16) -> R {
        done(invoke(self.0, &msg::x86_io_port_out16(port, data)))
    }
    pub fn out32(self, port: u16, data: u32) -> R {
        done(invoke(self.0, &msg::x86_io_port_out32(port, data)))
    }
}

impl Notification {
    /// `seL4_Signal`.
    pub fn signal(self) {
        syscall::signal(self.0)
    }
    /// `seL4_Wait`: blocks until signalled; returns the accumulated badge bits.
    pub fn wait(self) -> Badge {
        syscall::wait(self.0)
    }
    /// `seL4_Poll`: the pending badge bits, 0 if none.
    pub fn poll(self) -> Badge {
        syscall::poll(self.0)
    }
}
