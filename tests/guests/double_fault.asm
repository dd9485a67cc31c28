; double_fault: exception classes during delivery in 64-bit mode (SDM vol.
; 3A 6.15 interrupt 8, table 6-5): #PF whose frame push faults (#PF, #PF)
; becomes #DF with error code 0 on its IST stack; #UD (benign) whose gate is
; not present is just #NP. Two contributory faults are in idt64_faults (the
; nested KVM sandbox does not make them #DF). Then a fault while delivering #DF (every gate beyond
; the IDT limit) is a triple fault: the machine resets (run without
; --no-reboot); a marker in CMOS RAM tells the second boot to pass.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"

MARKER_BYTE equ 0x3E            ; a free CMOS RAM byte
MARKER      equ 0x5A
UNMAPPED    equ 0x40000000      ; the identity map ends at 1 GiB
D_VEC    equ REC + 0x00
D_ERR    equ REC + 0x08
D_RSP    equ REC + 0x10         ; the handler's RSP at entry (the error code's address)
D_CR2    equ REC + 0x18
D_RESUME equ REC + 0x20

%macro CMOS_READ 1
    mov al, %1
    out 0x70, al
    in al, 0x71
%endmacro
%macro CMOS_WRITE 2
    mov al, %1
    out 0x70, al
    mov al, %2
    out 0x71, al
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    CMOS_READ MARKER_BYTE
    cmp al, MARKER
    je second_boot
    PUTS `double_fault: entering long mode\n`
    ENTER_PM32 pm_entry

second_boot:
    CMOS_WRITE MARKER_BYTE, 0
    PUTS `double_fault: booted again after the triple fault, marker cleared\n`
    PASS `double_fault`

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call build_long_tables
    call install_sys_gdt
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    LONG_SYS_INIT
    mov eax, 8
    mov rdx, df_handler
    mov bx, 0x018E              ; interrupt gate, IST 1
    call idt64_gate
    mov eax, 11
    mov rdx, np_handler
    mov bx, 0x008E
    call idt64_gate

    ; --- 1: #PF, then #PF pushing its frame ------------------------------
    PUTS `#PF (read at 40000010h) with RSP unmapped (50000000h): `
    mov qword [D_RESUME], .r2
    mov rsp, UNMAPPED + 0x10000000
    mov rax, [UNMAPPED + 0x10]
.r2:
    call report
    CHECK qword [D_VEC], 8, `vector`
    CHECK qword [D_ERR], 0, `#DF error code`
    CHECK qword [D_RSP], IST1_TOP - 48, `#DF on the IST1 stack`
    PUTS `  CR2 in the frame's page: `
    mov rax, [D_CR2]
    and rax, ~0xFFF
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, UNMAPPED + 0x10000000 - 0x1000, `CR2 of the second #PF`

    ; --- 2: #UD, then #NP: benign then contributory is no #DF -------------
    PUTS `#UD (UD2) with the #UD gate not present: `
    mov byte [IDT64_BASE + 6 * 16 + 5], 0x0E
    mov qword [D_RESUME], .r3
    ud2
.r3:
    mov byte [IDT64_BASE + 6 * 16 + 5], 0x8E
    PUTS `vector `
    PUTHEX [D_VEC], 2
    PUTC `\n`
    CHECK qword [D_VEC], 11, `#NP, not #DF`

    ; --- 3: triple fault --------------------------------------------------
    CMOS_WRITE MARKER_BYTE, MARKER
    PUTS `UD2 with an IDT limit of 0 (#UD, #GP, #DF all beyond it): expect a triple fault and a reset\n`
    lidt [rel empty_idt]
    ud2
    FAIL 0x40, `no triple fault`

empty_idt:
    dw 0
    dq IDT64_BASE

; Prints the recorded vector, error code and handler stack.
report:
    PUTS `vector `
    PUTHEX [D_VEC], 2
    PUTS ` error `
    PUTHEX [D_ERR], 4
    PUTS `, handler RSP `
    PUTHEX [D_RSP], 8
    PUTC `\n`
    ret

df_handler:                     ; [rsp] error, RIP, CS, RFLAGS, RSP, SS
    mov qword [D_VEC], 8
    jmp record
np_handler:
    mov qword [D_VEC], 11
record:
    mov [D_RSP], rsp
    push rax
    mov rax, [rsp + 8]
    mov [D_ERR], rax
    mov rax, cr2
    mov [D_CR2], rax
    mov rax, [D_RESUME]
    mov [rsp + 16], rax
    mov qword [rsp + 40], STACK_TOP     ; the interrupted RSP may be the bad one
    pop rax
    add rsp, 8
    iretq

ROM_END
