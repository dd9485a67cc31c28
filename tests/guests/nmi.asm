; nmi: non-maskable interrupts in 64-bit mode (SDM vol. 3A 6.7.1, 10.6.1,
; 10.5.1): a self-NMI through the local APIC's ICR is taken with IF=0 right
; after the ICR write, on the IST stack its gate names; an NMI requested
; inside the NMI handler waits for IRETQ and is taken right after it (before
; the next instruction); the i8259's INTR through LVT LINT0 in NMI mode
; (the UART's THRE interrupt on IRQ4) arrives as an NMI.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"
%include "pic.inc"

APIC       equ 0xFEE00000
APIC_SVR   equ 0xF0         ; register offsets, addressed through r12 = APIC
APIC_ICRLO equ 0x300
APIC_ICRHI equ 0x310
APIC_LINT0 equ 0x350
ICR_NMI_ALL equ (2 << 18) | (4 << 8)   ; all including self, delivery mode NMI
LM_PD_HIGH equ 0x23000                  ; PD for 3-4 GiB: the APIC page

N_COUNT  equ REC + 0        ; NMIs taken
N_INSIDE equ REC + 8        ; N_COUNT seen inside the handler after the nested request
N_NEST   equ REC + 16       ; 1: the handler requests another NMI
N_RIP    equ REC + 0x40     ; per NMI: saved RIP
N_RSP    equ REC + 0x80     ; per NMI: RSP at the handler's entry
N_FLAGS  equ REC + 0xC0     ; per NMI: saved RFLAGS

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `nmi: entering long mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call build_long_tables
    mov edi, LM_PD_HIGH
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [LM_PDPT + 3 * 8], LM_PD_HIGH | 3
    mov dword [LM_PD_HIGH + ((APIC >> 21) & 511) * 8], (APIC & 0xFFE00000) | 0x9B  ; 2 MiB, PCD, PWT
    call install_sys_gdt
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    mov qword [SYS_TSS + 4], KSTACK_TOP
    mov qword [SYS_TSS + 0x24], IST1_TOP
    LOAD_TR
    mov eax, 2
    mov rdx, nmi_handler
    mov bx, 0x018E              ; interrupt gate, DPL 0, IST 1
    call idt64_gate
    mov edi, REC
    mov ecx, 0x100 / 8
    xor eax, eax
    rep stosq
    mov r12d, APIC
    mov dword [r12 + APIC_SVR], 0x1FF ; software-enable the APIC
    mov dword [r12 + APIC_ICRHI], 0

    ; --- 1: self-NMI with IF=0 -------------------------------------------
    PUTS `ICR NMI (all including self) with IF=0: `
    mov dword [r12 + APIC_ICRLO], ICR_NMI_ALL
.after1:
    mov rax, [N_COUNT]
    PUTS `taken `
    PUTDEC rax
    CHECK rax, 1, `NMI count`
    PUTS `, RIP `
    mov rax, [N_RIP]
    lea rbx, [rel .after1]
    cmp rax, rbx
    jne .bad_rip1
    PUTS `= the instruction after the ICR write`
    PUTS `, RFLAGS.IF=`
    mov rax, [N_FLAGS]
    shr eax, 9
    and eax, 1
    PUTDEC rax
    CHECK rax, 0, `saved RFLAGS.IF`
    PUTS `, IST1 stack `
    mov rax, [N_RSP]
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, IST1_TOP - 40, `NMI handler RSP`

    ; --- 2: an NMI requested inside the handler waits for IRETQ ----------
    PUTS `NMI requested inside the NMI handler: `
    mov byte [N_NEST], 1
    mov dword [r12 + APIC_ICRLO], ICR_NMI_ALL
.after2:
    PUTS `count inside after the request `
    mov rax, [N_INSIDE]
    PUTDEC rax
    CHECK rax, 2, `NMI count inside the handler (the second NMI must wait)`
    PUTS `, after IRETQ `
    mov rax, [N_COUNT]
    PUTDEC rax
    CHECK rax, 3, `NMI count after IRETQ`
    mov rax, [N_RIP + 8]
    lea rbx, [rel .after2]
    cmp rax, rbx
    jne .bad_rip2
    mov rax, [N_RIP + 16]
    cmp rax, rbx
    jne .bad_rip3
    PUTS `; both saved RIPs = the instruction after the ICR write (the second taken right after IRETQ)\n`

    ; --- 3: LINT0 in NMI mode --------------------------------------------
    PUTS `LVT LINT0 in NMI mode, i8259 IRQ4 (UART THRE) raised: `
    PIC_INIT
    mov dword [r12 + APIC_LINT0], 4 << 8     ; NMI, unmasked
    mov al, 0xEF                       ; unmask IRQ4
    out PIC1_DATA, al
    mov dx, COM1 + UART_LSR
.drain:
    in al, dx
    test al, 0x40                      ; TEMT: nothing left to send
    jz .drain
    mov dx, COM1 + UART_MCR
    mov al, 0x0B                       ; DTR, RTS, OUT2 (the IRQ gate)
    out dx, al
    mov dx, COM1 + UART_IER
    mov al, 0x02                       ; THRE interrupt: the line rises now
    out dx, al
.after3:
    xor al, al
    out dx, al
    mov al, 0xFF
    out PIC1_DATA, al
    mov dword [r12 + APIC_LINT0], 0x10000    ; masked
    mov rax, [N_COUNT]
    PUTS `NMIs taken `
    PUTDEC rax
    CHECK rax, 4, `NMI count after the LINT0 edge`
    mov rax, [N_RIP + 24]
    lea rbx, [rel .after3]
    cmp rax, rbx
    jne .bad_rip4
    PUTS `, RIP = the instruction after the IER write\n`
    PASS `nmi`

.bad_rip1:
    FAIL 0x41, `first NMI: saved RIP is not the instruction after the ICR write`
.bad_rip2:
    FAIL 0x42, `second NMI: saved RIP is not the instruction after the ICR write`
.bad_rip3:
    FAIL 0x43, `nested NMI: not taken right after IRETQ`
.bad_rip4:
    FAIL 0x44, `LINT0 NMI: saved RIP is not the instruction after the IER write`

; Records the NMI; with N_NEST set, requests another one and notes that it
; is not taken before IRETQ.
nmi_handler:
    push rax
    push rbx
    mov rax, [N_COUNT]
    lea rbx, [rsp + 16]
    mov [N_RSP + rax * 8], rbx
    mov rbx, [rsp + 16]
    mov [N_RIP + rax * 8], rbx
    mov rbx, [rsp + 32]
    mov [N_FLAGS + rax * 8], rbx
    inc qword [N_COUNT]
    cmp byte [N_NEST], 0
    je .out
    mov byte [N_NEST], 0
    mov dword [r12 + APIC_ICRLO], ICR_NMI_ALL
    nop
    nop
    mov rax, [N_COUNT]
    mov [N_INSIDE], rax
.out:
    pop rbx
    pop rax
    iretq

ROM_END
