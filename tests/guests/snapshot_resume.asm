; snapshot_resume: a long deterministic computation in 32-bit protected mode
; with paging (4 MiB pages, CR4.PSE) and SSE, in phases, for the snapshot
; tests (tests/snapshot): taken in the middle and resumed, on the same or
; another engine, it must print what an uninterrupted run prints and end in
; the same CPU state. Every phase folds in state that lives outside the
; general registers, so a snapshot that loses any of it changes the sums:
; XMM0 (a running SSE sum), the UART scratch register, the i8259 mask
; register, a CMOS byte, and a 4 MiB page mapped at 8 MiB that aliases
; physical 4 MiB (the page tables and CR3 must survive). After phase
; WAIT_AFTER it polls COM1 for one input byte (and folds it in), so a test
; can take its snapshot at a known point: while the guest waits.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

PHASES     equ 16
ITERATIONS equ 600000
WAIT_AFTER equ 8                 ; the phase after which it waits for a byte
PD         equ PT32_PD
ALIAS      equ 0x800000          ; linear 8 MiB -> physical 4 MiB
PHYS_DATA  equ 0x400000
PG_P  equ 0x01
PG_RW equ 0x02
PG_PS equ 0x80
CMOS_INDEX equ 0x70
CMOS_DATA  equ 0x71
CMOS_SCRATCH equ 0x40            ; a CMOS RAM byte past the RTC registers
UART_SCR   equ COM1 + 7
PIC1_DATA  equ 0x21

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `snapshot_resume: entering 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    ; Identity 4 MiB pages for 0-8 MiB, and 8 MiB -> 4 MiB.
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD + 0 * 4], 0x000000 | PG_P | PG_RW | PG_PS
    mov dword [PD + 1 * 4], PHYS_DATA | PG_P | PG_RW | PG_PS
    mov dword [PD + 2 * 4], PHYS_DATA | PG_P | PG_RW | PG_PS
    mov eax, cr4
    or eax, (1 << 4) | (1 << 9)  ; PSE, OSFXSR
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 1 << 31
    and eax, ~(1 << 2)           ; no x87 emulation: SSE may run
    mov cr0, eax

    ; Device state the phases read back.
    mov dx, UART_SCR
    mov al, 0x5A
    out dx, al
    mov al, 0xFA                 ; everything masked but IRQ 0 and 2
    out PIC1_DATA, al
    mov al, CMOS_SCRATCH
    out CMOS_INDEX, al
    mov al, 0x11
    out CMOS_DATA, al

    pxor xmm0, xmm0
    mov dword [ALIAS], 0x2468ACE1
    mov ebx, 0x12345
    mov edx, 0
    mov ebp, 1                   ; phase number

.phase:
    mov edi, ITERATIONS
    mov esi, [PHYS_DATA]         ; written through the alias last phase
.loop:
    ; xorshift32 in ESI, mixed into EBX and EDX.
    mov eax, esi
    shl eax, 13
    xor esi, eax
    mov eax, esi
    shr eax, 17
    xor esi, eax
    mov eax, esi
    shl eax, 5
    xor esi, eax
    add ebx, esi
    rol edx, 3
    xor edx, ebx
    dec edi
    jnz .loop
    mov [ALIAS], esi

    ; Fold in the SSE sum and the devices' bytes.
    movd xmm1, ebx
    paddd xmm0, xmm1
    movd eax, xmm0
    xor edx, eax
    push edx
    mov dx, UART_SCR
    in al, dx
    movzx ecx, al
    in al, PIC1_DATA
    movzx eax, al
    shl eax, 8
    or ecx, eax
    mov al, CMOS_SCRATCH
    out CMOS_INDEX, al
    in al, CMOS_DATA
    movzx eax, al
    shl eax, 16
    or ecx, eax
    pop edx
    add edx, ecx
    ; The next phase sees other device values.
    mov al, CMOS_SCRATCH
    out CMOS_INDEX, al
    in al, CMOS_DATA
    inc al
    out CMOS_DATA, al
    push edx
    mov dx, UART_SCR
    in al, dx
    rol al, 1
    out dx, al
    pop edx

    PUTS `phase `
    PUTDEC ebp
    PUTS `: `
    PUTHEX ebx, 8
    PUTC ` `
    PUTHEX edx, 8
    PUTC `\n`
    cmp ebp, WAIT_AFTER
    jne .next
    PUTS `waiting for a byte on COM1\n`
    push edx
    mov dx, COM1 + UART_LSR
.poll:
    in al, dx
    test al, 1
    jz .poll
    mov dx, COM1
    in al, dx
    movzx eax, al
    pop edx
    add edx, eax
.next:
    inc ebp
    cmp ebp, PHASES
    jbe .phase

    PASS `snapshot_resume`

ROM_END
