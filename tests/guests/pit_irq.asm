; pit_irq: the i8259 pair programmed as Linux does, the i8254 channel 0 in
; mode 2 (rate generator) at about 1 kHz, and N timer interrupts counted
; with HLT in real mode (IVT handler), 32-bit protected mode (IDT gate) and
; 64-bit long mode (IDT gate), each handler ending with a non-specific EOI.
; Also checks the PIC mask and in-service registers and the PIT read-back
; status and latched count (range only: never a timing-dependent number).
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "pic.inc"

NTICKS      equ 20
PIT_COUNT   equ 1193            ; 1193182 Hz / 1193 = 1000.2 Hz
TICKS       equ VARS            ; dword, incremented by the IRQ0 handlers
TIMER_VEC   equ PIC_VECTOR_BASE + 0

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `pit_irq: programming the PICs (vectors 20h-2Fh) and PIT channel 0 (mode 2, count `
    PUTDEC PIT_COUNT
    PUTS `)\n`
    PIC_INIT
    mov al, 0xFE                ; unmask IRQ0 only
    out PIC1_DATA, al
    in al, PIC1_DATA
    movzx eax, al
    PUTS `PIC master IMR=`
    PUTHEX eax, 2
    CHECK eax, 0xFE, `master IMR`
    in al, PIC2_DATA
    movzx eax, al
    PUTS ` slave IMR=`
    PUTHEX eax, 2
    PUTC `\n`
    CHECK eax, 0xFF, `slave IMR`

    mov al, 0x34                ; channel 0, lobyte/hibyte, mode 2, binary
    out 0x43, al
    mov al, PIT_COUNT & 0xFF
    out 0x40, al
    mov al, PIT_COUNT >> 8
    out 0x40, al

    ; Read-back command (C2h: latch status of channel 0): RW=3, mode 2, binary.
    mov al, 0xE2
    out 0x43, al
    in al, 0x40
    and al, 0x3F                ; drop OUT and null-count, which depend on timing
    movzx eax, al
    PUTS `PIT channel 0 status (without OUT/null bits)=`
    PUTHEX eax, 2
    PUTC `\n`
    CHECK eax, 0x34, `PIT read-back status`

    ; --- real mode -------------------------------------------------------
    SET_IVT TIMER_VEC, irq0_real
    mov dword [TICKS], 0
    sti
.wait_real:
    hlt
    cmp dword [TICKS], NTICKS
    jb .wait_real
    cli
    PUTS `real mode: `
    PUTDEC NTICKS
    PUTS ` timer ticks ok\n`

    ; The counter, latched: mode 2 counts PIT_COUNT down to 1.
    xor al, al                  ; counter latch, channel 0
    out 0x43, al
    in al, 0x40
    mov ah, al
    in al, 0x40
    xchg al, ah
    movzx eax, ax
    cmp eax, 1
    jb .bad_count
    cmp eax, PIT_COUNT
    ja .bad_count
    PUTS `PIT channel 0 latched count within 1..`
    PUTDEC PIT_COUNT
    PUTC `\n`
    jmp .count_ok
.bad_count:
    PUTS `FAIL: latched count out of range: `
    PUTHEX eax, 4
    PUTC `\n`
    EXIT 0x70
.count_ok:
    ENTER_PM32 pm_entry

irq0_real:
    push ax
    inc dword [TICKS]
    PIC_EOI
    pop ax
    iret

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    mov eax, TIMER_VEC
    mov edx, irq0_pm32
    call idt32_set
    mov dword [TICKS], 0
    sti
.wait:
    hlt
    cmp dword [TICKS], NTICKS
    jb .wait
    cli
    PUTS `32-bit protected mode: `
    PUTDEC NTICKS
    PUTS ` timer ticks ok\n`
    call build_long_tables
    ENTER_LONG lm_entry

irq0_pm32:
    push eax
    inc dword [TICKS]
    PIC_EOI
    pop eax
    iretd

    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    mov eax, TIMER_VEC
    mov rdx, irq0_long
    call idt64_set
    mov dword [TICKS], 0
    sti
.wait:
    hlt
    cmp dword [TICKS], NTICKS
    jb .wait
    cli
    PUTS `64-bit long mode: `
    PUTDEC NTICKS
    PUTS ` timer ticks ok\n`

    ; Every interrupt got its EOI: nothing in service (OCW3 0Bh reads ISR).
    mov al, 0x0B
    out PIC1_CMD, al
    in al, PIC1_CMD
    movzx eax, al
    PUTS `PIC master ISR after the last EOI=`
    PUTHEX rax, 2
    PUTC `\n`
    CHECK rax, 0, `master ISR`
    mov al, 0x0A                ; back to reading IRR
    out PIC1_CMD, al
    mov al, 0xFF
    out PIC1_DATA, al
    PASS `pit_irq`

irq0_long:
    push rax
    inc dword [TICKS]
    PIC_EOI
    pop rax
    iretq

ROM_END
