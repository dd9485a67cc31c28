; idt64_faults: faults raised by the 64-bit IDT itself and their error codes
; (SDM vol. 3A 6.13 error code, 6.14.1 64-bit IDT, 6.15 table 6-5): the
; index field holds the vector (vector * 8 + 2, IDT bit) although gates are
; 16 bytes, EXT is set when the first event was not INT n, and two
; contributory faults (#DE or #GP, then #NP from its missing gate) are #DF(0).
; The nested KVM sandbox's CPU (QEMU TCG) differs on all three: it reports
; vector * 16 + 2 without EXT and delivers the #NP alone, so CMakeLists.txt
; marks this guest as a known sandbox limitation.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

D_VEC    equ VARS + 0x00
D_ERR    equ VARS + 0x08
D_RESUME equ VARS + 0x10

; EXPECT_FAULT vector, error, text: prints what the handlers recorded and checks it.
%macro EXPECT_FAULT 3
    PUTS %3, `: vector `
    PUTHEX [D_VEC], 2
    PUTS ` error `
    PUTHEX [D_ERR], 4
    PUTC `\n`
    CHECK qword [D_VEC], %1, `vector`
    CHECK qword [D_ERR], %2, `error code`
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `idt64_faults: entering long mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call build_long_tables
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    mov eax, 8
    mov rdx, df_handler
    call idt64_set
    mov eax, 11
    mov rdx, np_handler
    call idt64_set
    mov eax, 13
    mov rdx, gp_handler
    call idt64_set

    mov qword [D_RESUME], .r1
    int 0x30                    ; the IDT holds vectors 0-2Fh
.r1:
    EXPECT_FAULT 13, 0x30 * 8 + 2, `INT 30h beyond the IDT limit`

    mov byte [IDT64_BASE + 0x2F * 16 + 5], 0x0E   ; P = 0
    mov qword [D_RESUME], .r2
    int 0x2F
.r2:
    EXPECT_FAULT 11, 0x2F * 8 + 2, `INT 2Fh, gate not present`

    mov byte [IDT64_BASE + 6 * 16 + 5], 0x0E
    mov qword [D_RESUME], .r3
    ud2
.r3:
    mov byte [IDT64_BASE + 6 * 16 + 5], 0x8E
    EXPECT_FAULT 11, 6 * 8 + 3, `#UD, gate not present (EXT)`

    mov byte [IDT64_BASE + 0 * 16 + 5], 0x0E
    mov qword [D_RESUME], .r4
    xor edx, edx
    xor ecx, ecx
    div ecx
.r4:
    mov byte [IDT64_BASE + 0 * 16 + 5], 0x8E
    EXPECT_FAULT 8, 0, `#DE, gate not present (#DE then #NP)`

    mov byte [IDT64_BASE + 13 * 16 + 5], 0x0E
    mov qword [D_RESUME], .r5
    mov ax, 0x1230
    mov ds, ax
.r5:
    mov byte [IDT64_BASE + 13 * 16 + 5], 0x8E
    EXPECT_FAULT 8, 0, `#GP, gate not present (#GP then #NP)`
    PASS `idt64_faults`

df_handler:                     ; [rsp] error, RIP, CS, RFLAGS, RSP, SS
    mov qword [D_VEC], 8
    jmp record
np_handler:
    mov qword [D_VEC], 11
    jmp record
gp_handler:
    mov qword [D_VEC], 13
record:
    push rax
    mov rax, [rsp + 8]
    mov [D_ERR], rax
    mov rax, [D_RESUME]
    mov [rsp + 16], rax
    pop rax
    add rsp, 8
    iretq

ROM_END
