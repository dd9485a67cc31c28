; debug_regs: hardware breakpoints (SDM vol. 3A 17.2-17.3) in 32-bit
; protected mode and 64-bit mode: instruction breakpoints (faults, saved RF
; 0, RF in the IRET image steps over one), data write and read/write
; breakpoints of 2, 4 and 8 bytes (traps after the access, also inside REP
; MOVSD after the iteration that hit), DR6 B0-B3 and BS. DR7.GD is in
; debug_gd.asm.
; The #DB handler records the count, DR6, the saved instruction pointer and
; ECX, clears DR6 and sets RF in the image it returns through. Code stays in
; flat segments: instruction breakpoints match CS.base + EIP, and some
; emulators compare DRn with EIP alone.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

DB_N        equ VARS + 0x00     ; #DB count
DB_DR6      equ VARS + 0x08
DB_IP       equ VARS + 0x10     ; saved EIP/RIP
DB_FLAGS    equ VARS + 0x18     ; saved EFLAGS/RFLAGS
DB_CX       equ VARS + 0x20     ; ECX/RCX at the #DB
VAR_W       equ VARS + 0x100    ; watched by the write breakpoints
VAR_RW      equ VARS + 0x140    ; watched by the read/write breakpoints
SRC         equ VARS + 0x200
DST         equ VARS + 0x300

DR6_CLEAR   equ 0xFFFF0FF0      ; DR6 after writing 0 (reserved bits read 1)
DR7_CLEAR   equ 0x400

; ARM: no #DB seen yet, DR6 clear.
%macro ARM 0
    mov dword [DB_N], 0
    xor eax, eax
%if __BITS__ == 64
    mov dr6, rax
%else
    mov dr6, eax
%endif
%endmacro

; SET_DR n, value: loads DRn through EAX/RAX.
%macro SET_DR 2
%if __BITS__ == 64
    mov rax, %2
    mov dr%1, rax
%else
    mov eax, %2
    mov dr%1, eax
%endif
%endmacro

; EXPECT_DB count, dr6, ip, description: prints and checks what the handler saw.
%macro EXPECT_DB 4+
    SET_DR 7, DR7_CLEAR
    PUTS %4, `: #DB x`
%if __BITS__ == 64
    mov eax, [DB_N]
    PUTDEC rax
    PUTS `, DR6 `
    PUTHEX [DB_DR6], 8
    PUTC `\n`
    mov eax, [DB_N]
    CHECK rax, %1, `#DB count`
    mov rax, [DB_DR6]
    CHECK rax, %2, `DR6`
    mov rax, [DB_IP]
    CHECK rax, %3, `saved RIP`
%else
    PUTDEC [DB_N]
    PUTS `, DR6 `
    PUTHEX [DB_DR6], 8
    PUTC `\n`
    CHECK dword [DB_N], %1, `#DB count`
    CHECK dword [DB_DR6], %2, `DR6`
    CHECK dword [DB_IP], %3, `saved EIP`
%endif
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `debug_regs: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

; ---------------------------------------------------------------------------
    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    mov eax, 1
    mov edx, db32
    call idt32_set

    ; Instruction breakpoint on DR0, local enable: a fault before the
    ; instruction, saved RF 0.
    ARM
    SET_DR 0, .bp1
    SET_DR 7, DR7_CLEAR | 0x1
.bp1:
    nop
    EXPECT_DB 1, DR6_CLEAR | 0x1, .bp1, `instruction breakpoint (DR0, L0)`
    mov eax, [DB_FLAGS]
    and eax, 0x10000
    CHECK eax, 0, `RF in the image an instruction breakpoint pushes`

    ; The same breakpoint (global enable) on a loop body run three times:
    ; RF set by the handler skips it once, so each pass hits once.
    ARM
    SET_DR 0, .bp2
    SET_DR 7, DR7_CLEAR | 0x2
    mov ecx, 3
.bp2:
    dec ecx
    jnz .bp2
    EXPECT_DB 3, DR6_CLEAR | 0x1, .bp2, `instruction breakpoint (DR0, G0) on 3 passes`

    ; Data write breakpoint on DR1, 4 bytes: reads and the next dword do not
    ; hit, a 2-byte write over its upper half does (a trap after it).
    ARM
    mov dword [VAR_W], 0x11223344
    SET_DR 1, VAR_W
    SET_DR 7, DR7_CLEAR | 0x4 | (01b << 20) | (11b << 22)
    mov eax, [VAR_W]
    mov [VAR_W + 4], eax
    mov [VAR_W + 2], ax
.wp1:
    EXPECT_DB 1, DR6_CLEAR | 0x2, .wp1, `data write breakpoint (DR1, 4 bytes)`

    ; Read/write breakpoint on DR2, 2 bytes: a read of its second byte hits,
    ; the byte after it does not.
    ARM
    SET_DR 2, VAR_RW
    SET_DR 7, DR7_CLEAR | 0x20 | (11b << 24) | (01b << 26)
    mov al, [VAR_RW + 2]
    mov al, [VAR_RW + 1]
.rw1:
    EXPECT_DB 1, DR6_CLEAR | 0x4, .rw1, `read/write breakpoint (DR2, 2 bytes), read`
    ; A read-modify-write is one access for the breakpoint: one #DB.
    ARM
    SET_DR 7, DR7_CLEAR | 0x20 | (11b << 24) | (01b << 26)
    add word [VAR_RW], 1
.rw2:
    EXPECT_DB 1, DR6_CLEAR | 0x4, .rw2, `read/write breakpoint (DR2, 2 bytes), read-modify-write`

    ; Write breakpoint on DR3 inside REP MOVSD: the trap comes after the
    ; iteration that wrote DST+8, with EIP still on the REP and ECX = 1.
    ARM
    SET_DR 3, DST + 8
    SET_DR 7, DR7_CLEAR | 0x40 | (01b << 28) | (11b << 30)
    mov esi, SRC
    mov edi, DST
    mov ecx, 4
.rep1:
    rep movsd
    EXPECT_DB 1, DR6_CLEAR | 0x8, .rep1, `write breakpoint (DR3) inside REP MOVSD`
    CHECK dword [DB_CX], 1, `ECX at the REP MOVSD #DB`
    CHECK ecx, 0, `ECX after REP MOVSD`

    ; Single-step: DR6.BS, B0-B3 clear.
    ARM
    pushfd
    or dword [esp], 0x100
    popfd                       ; sets TF: no trap
    nop                         ; 1
    pushfd                      ; 2
    and dword [esp], ~0x100     ; 3
    popfd                       ; 4: clears TF
.ss1:
    EXPECT_DB 4, DR6_CLEAR | 0x4000, .ss1, `single-step (DR6.BS)`

    call build_long_tables
    ENTER_LONG lm_entry

db32:
    push eax
    inc dword [DB_N]
    mov eax, dr6
    mov [DB_DR6], eax
    mov eax, [esp + 4]
    mov [DB_IP], eax
    mov eax, [esp + 12]
    mov [DB_FLAGS], eax
    mov [DB_CX], ecx
    or dword [esp + 12], 0x10000   ; RF: step over an instruction breakpoint
    xor eax, eax
    mov dr6, eax
    pop eax
    iretd

; ---------------------------------------------------------------------------
    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    mov eax, 1
    mov edx, db64
    call idt64_set
    PUTS `debug_regs: 64-bit mode\n`

    ARM
    SET_DR 0, .bp1
    SET_DR 7, DR7_CLEAR | 0x1
.bp1:
    nop
    EXPECT_DB 1, DR6_CLEAR | 0x1, .bp1, `instruction breakpoint (DR0, L0)`

    ; 8-byte write breakpoint on DR1: byte 7 hits, byte 8 does not.
    ARM
    SET_DR 1, VAR_W
    SET_DR 7, DR7_CLEAR | 0x8 | (01b << 20) | (10b << 22)
    mov byte [VAR_W + 8], 1
    mov byte [VAR_W + 7], 1
.wp1:
    EXPECT_DB 1, DR6_CLEAR | 0x2, .wp1, `data write breakpoint (DR1, 8 bytes)`

    ; 8-byte read/write breakpoint on DR3: a qword read that straddles its
    ; start hits.
    ARM
    SET_DR 3, VAR_RW
    SET_DR 7, DR7_CLEAR | 0x40 | (11b << 28) | (10b << 30)
    mov rax, [VAR_RW - 4]
.rw1:
    EXPECT_DB 1, DR6_CLEAR | 0x8, .rw1, `read/write breakpoint (DR3, 8 bytes)`

    ; An instruction breakpoint and a write breakpoint together: the fault
    ; on the store first, then the trap after it.
    ARM
    SET_DR 0, .both
    SET_DR 1, VAR_W
    SET_DR 7, DR7_CLEAR | 0x1 | 0x4 | (01b << 20) | (11b << 22)
.both:
    mov dword [VAR_W], 5
.both_end:
    EXPECT_DB 2, DR6_CLEAR | 0x2, .both_end, `instruction then data breakpoint on one store`

    PASS `debug_regs`

db64:
    push rax
    inc dword [DB_N]
    mov rax, dr6
    mov [DB_DR6], rax
    mov rax, [rsp + 8]
    mov [DB_IP], rax
    mov rax, [rsp + 24]
    mov [DB_FLAGS], rax
    mov [DB_CX], rcx
    or qword [rsp + 24], 0x10000
    xor eax, eax
    mov dr6, rax
    pop rax
    iretq

ROM_END
