; alignment_check: #AC(0) (SDM vol. 3A 6.15 "Interrupt 17", 2.5 CR0.AM,
; table 6-7 alignment by data type) at CPL 3 of 32-bit protected mode with
; CR0.AM and EFLAGS.AC: misaligned word, dword and 8-byte x87 loads, a push
; on a misaligned stack, REP MOVSW and FNSTENV fault; aligned accesses,
; bytes, FNSAVE on a 4-byte boundary and the processor's own frame on a
; misaligned ring-0 stack do not; neither does anything without EFLAGS.AC,
; without CR0.AM, or at CPL 0.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"
%include "trap.inc"

MON_ESP  equ REC + 0x40
DATA     equ VARS + 0x200
INT_EXIT equ 0x2E           ; DPL 3 gate: back to the ring-0 monitor
ACF      equ 0x40000
AM       equ 1 << 18

; RING3 entry, eflags: runs entry at CPL 3 until it executes INT 2Eh.
%macro RING3 2
    mov ebx, %1
    mov ecx, 2 | 0x3000 | (%2)  ; IOPL 3: ring 3 prints
    call run_ring3
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `alignment_check: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_traps32
    call install_sys_gdt
    mov dword [SYS_TSS + 4], KSTACK_TOP
    mov dword [SYS_TSS + 8], K_DATA
    LOAD_TR
    mov eax, INT_EXIT
    mov edx, exit_gate
    mov bl, 0xEE
    call idt32_gate
    fninit

    mov eax, cr0
    or eax, AM
    mov cr0, eax
    RING3 user_ac, ACF
    PUTS `CPL 0 with CR0.AM and EFLAGS.AC: `
    pushfd
    or dword [esp], ACF
    popfd
    mov eax, [DATA + 1]
    mov [DATA + 3], eax
    pushfd
    and dword [esp], ~ACF
    popfd
    PUTS `no fault\n`

    mov eax, cr0
    and eax, ~AM
    mov cr0, eax
    RING3 user_no_am, ACF
    PASS `alignment_check`

; EBX entry, ECX EFLAGS: IRET to ring 3 (flat segments) at EBX; a handler
; ends the run by loading ESP from [MON_ESP] and returning.
run_ring3:
    mov [MON_ESP], esp
    push dword U_DATA
    push dword USTACK_TOP
    push ecx
    push dword U_CODE32
    push ebx
    iretd

exit_gate:
    mov ax, K_DATA
    mov ds, ax
    mov es, ax
    mov esp, [MON_ESP]
    ret

; ---- ring 3 ----
user_ac:
    mov ax, U_DATA
    mov ds, ax
    mov es, ax
    PUTS `CPL 3, CR0.AM, EFLAGS.AC:\n`
    TRY .d1
.f1:
    mov eax, [DATA + 1]
.d1:
    EXPECT 17, 0, .f1, NO_CR2, `  dword at +1`
    TRY .d2
.f2:
    mov ax, [DATA + 3]
.d2:
    EXPECT 17, 0, .f2, NO_CR2, `  word at +3`
    TRY .d3
.f3:
    mov [DATA + 2], eax
.d3:
    EXPECT 17, 0, .f3, NO_CR2, `  dword store at +2`
    TRY .d4
.f4:
    fld qword [DATA + 4]
.d4:
    EXPECT 17, 0, .f4, NO_CR2, `  x87 double at +4`
    TRY .d5
    sub esp, 2
.f5:
    push eax
.d5:
    add esp, 2
    EXPECT 17, 0, .f5, NO_CR2, `  PUSH on ESP = 2 mod 4`
    TRY .d6
    mov esi, DATA + 1
    mov edi, DATA + 0x40
    mov ecx, 2
    cld
.f6:
    rep movsw
.d6:
    mov [DATA + 0x80], ecx
    EXPECT 17, 0, .f6, NO_CR2, `  REP MOVSW from +1`
    CHECK dword [DATA + 0x80], 2, `ECX after the #AC of REP MOVSW`
    TRY .d7
.f7:
    fnstenv [DATA + 0x42]
.d7:
    EXPECT 17, 0, .f7, NO_CR2, `  FNSTENV (32-bit) at +42h`
    ; None of these fault.
    fnsave [DATA + 0x44]        ; its image needs 4-byte alignment only
    frstor [DATA + 0x44]
    mov al, [DATA + 1]
    mov ax, [DATA + 2]
    mov eax, [DATA + 4]
    fld qword [DATA + 8]
    fstp st0
    push eax
    pop eax
    PUTS `  byte at +1, word at +2, dword at +4, double at +8, PUSH, FNSAVE/FRSTOR at +44h: no fault\n`
    ; The exit's frame goes to a misaligned ring-0 stack: supervisor
    ; accesses are not checked.
    mov dword [SYS_TSS + 4], KSTACK_TOP - 2
    pushfd
    and dword [esp], ~ACF
    popfd
    mov eax, [DATA + 1]
    PUTS `  without EFLAGS.AC, dword at +1: no fault\n`
    pushfd
    or dword [esp], ACF
    popfd
    int INT_EXIT

user_no_am:
    mov ax, U_DATA
    mov ds, ax
    mov eax, [DATA + 1]
    mov [DATA + 3], ax
    PUTS `CPL 3 with EFLAGS.AC, CR0.AM clear: dword at +1, word at +3: no fault\n`
    int INT_EXIT

    ROM_END
