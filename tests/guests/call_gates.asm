; call_gates: far CALL and JMP through call gates (SDM vol. 3A 5.8, vol. 2
; CALL, JMP, RET). 32-bit protected mode: a 32-bit gate from ring 3 to ring 0
; (stack switch to the TSS's SS0:ESP0, two dwords of parameters copied, old
; SS:ESP and CS:EIP pushed) and RETF 8 back (DPL 0 ES nulled), a 16-bit gate
; to a 16-bit ring-0 segment copying three words, a same-ring call through a
; gate (no stack switch, no parameters), a ring 3 -> ring 1 call with SS1 from
; the TSS, JMP through a gate, and the faults with their error codes: gate
; DPL < CPL, gate not present, target not code, target not present, JMP to a
; more privileged segment, bad SS1 (#TS). (A gate offset beyond the target's
; limit is tests/interp/call_gates_test.cc's: the sandbox's TCG-emulated SVM
; does not check it.) Long
; mode: a 64-bit gate from 64-bit ring 3 and from compatibility mode (RSP0,
; null SS, 8-byte pushes, RETFQ back) and legacy gates refused.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"
%include "trap.inc"

USER_FLAGS equ 0x3202          ; IOPL 3 (ring 3 prints), IF

; Extra descriptors after sys_gdt (copied to SYS_GDT + 0x70).
G32      equ 0x70 | 3          ; 32-bit gate, DPL 3 -> K_CODE32:target32, 2 dwords
G16      equ 0x78 | 3          ; 16-bit gate, DPL 3 -> C16:target16, 3 words
C16      equ 0x80              ; 16-bit code, DPL 0, base F0000
G_DPL0   equ 0x88 | 3          ; gate DPL 0
G_NP     equ 0x90 | 3          ; gate not present
G_DATA   equ 0x98 | 3          ; gate to a data segment
G_USER   equ 0xA0 | 3          ; gate to ring-3 code (JMP at the same ring)
C_R1     equ 0xA8              ; 32-bit code, DPL 1
D_R1     equ 0xB0              ; data, DPL 1
G_R1     equ 0xB8 | 3          ; gate DPL 3 -> C_R1:target_r1
C_NP     equ 0xC0              ; 32-bit code, DPL 0, not present
G_CNP    equ 0xC8 | 3          ; gate -> C_NP
G_SAME   equ 0xD0              ; gate DPL 0 -> K_CODE32:target_same, count 5 (ignored)
G64      equ 0xE0 | 3          ; 64-bit gate (16 bytes), DPL 3 -> K_CODE64:target64
G_TOLM   equ 0xF8 | 3          ; 32-bit gate DPL 3 -> K_CODE32:to_long
U_CODE16 equ 0x100 | 3         ; 16-bit code, DPL 3, base F0000
EXTRA_END equ 0x108

%define LIN(x) (R(x) + ROM_BASE)
; GATE(cs, offset, P/DPL/type byte, count): an 8-byte call gate.
%define GATE(cs, off, attr, count) (((off) & 0xFFFF) | ((cs) << 16) | (((count) | ((attr) << 8) | ((off) & 0xFFFF0000)) << 32))

; What the gate targets record.
R_ESP    equ REC + 0x00
R_SS     equ REC + 0x08
R_CS     equ REC + 0x10
R_STK    equ REC + 0x18        ; 8 slots from the stack top (qwords in 64-bit mode)

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `call_gates: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

; ===========================================================================
    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_traps32
    call install_sys_gdt
    mov esi, extra_gdt
    mov edi, SYS_GDT + 0x70
    mov ecx, (extra_gdt_end - extra_gdt) / 4
    rep movsd
    lgdt [extra_gdt_desc]
    mov dword [SYS_TSS + 4], KSTACK_TOP
    mov dword [SYS_TSS + 8], K_DATA
    mov dword [SYS_TSS + 0x0C], R1STACK_TOP
    mov dword [SYS_TSS + 0x10], U_DATA          ; RPL 3 for ring 1: #TS until fixed
    LOAD_TR

    ; Same ring through a gate: CS:EIP pushed on this stack, nothing copied.
    push dword 0xAAAA0001
    push dword 0xAAAA0002
    mov ebx, esp
    call G_SAME:0
.same_ret:
    PUTS `ring 0 CALL through gate 00D0 (count 5):`
    call print_rec
    mov eax, ebx
    sub eax, 8
    CHECK [R_ESP], eax, `same-ring gate: the callee's ESP is the caller's minus 8`
    CHECK dword [R_STK], .same_ret, `same-ring gate: return EIP`
    CHECK dword [R_STK + 4], K_CODE32, `same-ring gate: return CS`
    CHECK dword [R_STK + 8], 0xAAAA0002, `same-ring gate: no parameters copied`
    CHECK esp, ebx, `same-ring RETF`
    add esp, 8

    PUTS `IRET to ring 3\n`
    push U_DATA
    push USTACK_TOP
    push USER_FLAGS
    push U_CODE32
    push user32
    iretd

; --- gate targets (ring 0 unless named) -----------------------------------
target32:                       ; via G32: [esp] EIP, CS, p0, p1, ESP, SS
    call record32
    mov ax, K_DATA
    mov es, ax                  ; DPL 0: null again after RETF to ring 3
    retf 8

target_same:
    call record32
    retf

target_r1:                      ; ring 1
    call record32
    retf

; Records ESP (at the call into the target), SS, CS and eight dwords of the stack.
record32:
    push eax
    push ecx
    lea eax, [esp + 12]
    mov [R_ESP], eax
    mov eax, ss
    mov [R_SS], eax
    mov eax, cs
    mov [R_CS], eax
    xor ecx, ecx
.copy:
    mov eax, [esp + 12 + ecx * 4]
    mov [R_STK + ecx * 4], eax
    inc ecx
    cmp ecx, 8
    jb .copy
    pop ecx
    pop eax
    ret

; Prints the record: CS, SS:ESP and the first six stack dwords.
print_rec:
    PUTS ` CS=`
    PUTHEX [R_CS], 4
    PUTS ` SS:ESP=`
    PUTHEX [R_SS], 4
    PUTC ':'
    PUTHEX [R_ESP], 8
    PUTS `, stack`
    push ecx
    xor ecx, ecx
.next:
    PUTC ' '
    PUTHEX [R_STK + ecx * 4], 8
    inc ecx
    cmp ecx, 6
    jb .next
    pop ecx
    PUTC `\n`
    ret

; --- ring 3 --------------------------------------------------------------
user32:
    mov ax, U_DATA
    mov ds, ax
    mov es, ax
    PUTS `CALL 0073 (32-bit gate, 2 dwords) from ring 3:`
    push dword 0x11111111
    push dword 0x22222222
    call G32:0
.g32_ret:
    call print_rec
    CHECK dword [R_CS], K_CODE32, `CS after the gate`
    CHECK dword [R_SS], K_DATA, `SS from the TSS's SS0`
    CHECK dword [R_ESP], KSTACK_TOP - 24, `ESP0 minus SS, ESP, two parameters, CS, EIP`
    CHECK dword [R_STK], .g32_ret, `pushed EIP`
    CHECK dword [R_STK + 4], U_CODE32, `pushed CS`
    CHECK dword [R_STK + 8], 0x22222222, `parameter 0`
    CHECK dword [R_STK + 12], 0x11111111, `parameter 1`
    CHECK dword [R_STK + 16], USTACK_TOP - 8, `pushed ESP`
    CHECK dword [R_STK + 20], U_DATA, `pushed SS`
    mov eax, esp
    mov ebx, es
    mov ecx, ss
    mov edx, cs
    PUTS `RETF 8 to ring 3: CS=`
    PUTHEX edx, 4
    PUTS ` SS:ESP=`
    PUTHEX ecx, 4
    PUTC ':'
    PUTHEX eax, 8
    PUTS ` ES=`
    PUTHEX ebx, 4
    PUTC `\n`
    CHECK eax, USTACK_TOP, `RETF 8 skips the parameters on the outer stack`
    CHECK ebx, 0, `ES loaded with a DPL 0 selector in ring 0 is null after RETF`
    mov ax, U_DATA
    mov es, ax

    PUTS `CALL 007B (16-bit gate, 3 words) from 16-bit ring 3:`
    jmp U_CODE16:R(user16)
back32:
    call print_rec
    CHECK dword [R_CS], C16, `CS after the 16-bit gate`
    CHECK dword [R_ESP], KSTACK_TOP - 14, `SP0 minus 7 words`
    CHECK dword [R_STK], ((U_CODE16 << 16) | R(user16.g16_ret)), `pushed IP and CS`
    CHECK dword [R_STK + 4], 0x22221111, `parameters 0 and 1`
    CHECK dword [R_STK + 8], (((USTACK_TOP - 6) & 0xFFFF) << 16) | 0x3333, `parameter 2 and SP`
    movzx eax, word [R_STK + 12]
    CHECK eax, U_DATA, `pushed SS`
    CHECK esp, USTACK_TOP, `16-bit RETF 6 back to ring 3`

    PUTS `CALL 00BB (to ring 1) with SS1=0033:`
    TRY .r1
.f1: call G_R1:0
.r1:
    EXPECT 10, U_DATA & 0xFFFC, .f1, NO_CR2, ` #TS(SS1)`
    PUTS `CALL 00BB (to ring 1) with SS1=00B1:`
    mov eax, 1
    call G_TOLM:0              ; ring 0 fixes SS1 (the TSS is ring 0's)
    call G_R1:0
    call print_rec
    CHECK dword [R_CS], C_R1 | 1, `ring 1 CS`
    CHECK dword [R_SS], D_R1 | 1, `SS1`
    CHECK dword [R_ESP], R1STACK_TOP - 16, `ESP1 minus 4 dwords`

    PUTS `JMP 00A3 (gate to ring-3 code):`
    jmp G_USER:0
.jmp_fail:
    FAIL 0x50, `JMP through a gate did not jump`
jmp_target:
    mov eax, cs
    PUTS ` CS=`
    PUTHEX eax, 4
    PUTC `\n`
    CHECK eax, U_CODE32, `JMP through a gate keeps CPL 3`

    TRY .r2
.f2: call G_DPL0:0
.r2:
    EXPECT 13, 0x88, .f2, NO_CR2, `CALL 008B (gate DPL 0) from ring 3: #GP(gate)`
    TRY .r3
.f3: call G_NP:0
.r3:
    EXPECT 11, 0x90, .f3, NO_CR2, `CALL 0093 (gate not present): #NP(gate)`
    TRY .r4
.f4: call G_DATA:0
.r4:
    EXPECT 13, K_DATA, .f4, NO_CR2, `CALL 009B (gate to a data segment): #GP(target)`
    TRY .r5
.f5: call G_CNP:0
.r5:
    EXPECT 11, C_NP, .f5, NO_CR2, `CALL 00CB (target not present): #NP(target)`
    TRY .r6
.f6: jmp G32:0
.r6:
    EXPECT 13, K_CODE32, .f6, NO_CR2, `JMP 0073 (to ring 0 code) from ring 3: #GP(target)`
    TRY .r8
.f8: call 0x108:0
.r8:
    EXPECT 13, 0x108, .f8, NO_CR2, `CALL 0108 (beyond the GDT limit): #GP(selector)`

    xor eax, eax
    call G_TOLM:0              ; on to long mode
    FAIL 0x51, `to_long returned`

; Ring 0 through G_TOLM: EAX = 0: on to long mode; else fix SS1 and return.
to_long:
    test eax, eax
    jz .long
    mov dword [SYS_TSS + 0x10], D_R1 | 1
    retf
.long:
    mov ax, K_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK_TOP
    PUTS `call_gates: 64-bit long mode\n`
    call build_long_tables
    call user_long_tables
    and byte [SYS_GDT + SEL_TSS + 5], ~2   ; not busy, so LTR can load it again
    ENTER_LONG lm_entry

; --- 16-bit code ----------------------------------------------------------
    bits 16
user16:                         ; ring 3: a 16-bit gate pushes a 16-bit IP
    push word 0x3333
    push word 0x2222
    push word 0x1111
    call G16:0
.g16_ret:
    jmp dword U_CODE32:back32

target16:                       ; via G16: [esp] IP, CS, p0, p1, p2, SP, SS
    push eax
    push ecx
    lea eax, [esp + 8]
    mov [R_ESP], eax
    mov eax, ss
    mov [R_SS], eax
    mov eax, cs
    mov [R_CS], eax
    xor ecx, ecx
.copy:
    mov eax, [esp + 8 + ecx * 4]
    mov [R_STK + ecx * 4], eax
    inc ecx
    cmp ecx, 8
    jb .copy
    pop ecx
    pop eax
    o16 retf 6

; ===========================================================================
    bits 64
lm_entry:
    LONG_SYS_INIT
    call install_traps64
    mov qword [REC], 0
    PUTS `IRETQ to 64-bit ring 3\n`
    push U_DATA
    push USTACK_TOP
    push USER_FLAGS
    push U_CODE64
    push user64
    iretq

target64:                       ; via G64: [rsp] RIP, CS, RSP, SS
    push rax
    push rcx
    lea rax, [rsp + 16]
    mov [R_ESP], rax
    mov eax, ss
    mov [R_SS], rax
    mov eax, cs
    mov [R_CS], rax
    xor ecx, ecx
.copy:
    mov rax, [rsp + 16 + rcx * 8]
    mov [R_STK + rcx * 8], rax
    inc ecx
    cmp ecx, 4
    jb .copy
    pop rcx
    pop rax
    o64 retf

print_rec64:
    PUTS ` CS=`
    PUTHEX [R_CS], 4
    PUTS ` SS:RSP=`
    PUTHEX [R_SS], 4
    PUTC ':'
    PUTHEX [R_ESP], 8
    PUTS `, stack`
%assign i 0
%rep 4
    PUTC ' '
    PUTHEX [R_STK + i * 8], 8
%assign i i + 1
%endrep
    PUTC `\n`
    ret

user64:
    PUTS `CALL 00E3 (64-bit gate) from 64-bit ring 3:`
    call far dword [rel g64_ptr]
.ret:
    call print_rec64
    CHECK qword [R_SS], 0, `64-bit gate to an inner ring: SS null`
    CHECK qword [R_ESP], KSTACK_TOP - 32, `RSP0 minus four qwords`
    mov rax, .ret
    CHECK [R_STK], rax, `pushed RIP`
    CHECK qword [R_STK + 8], U_CODE64, `pushed CS`
    CHECK qword [R_STK + 16], USTACK_TOP, `pushed RSP`
    CHECK qword [R_STK + 24], U_DATA, `pushed SS`
    mov rax, rsp
    CHECK rax, USTACK_TOP, `RETFQ back to ring 3`
    TRY .r1
.f1: call far dword [rel g16_ptr]
.r1:
    EXPECT 13, 0x78, .f1, NO_CR2, `CALL 007B (16-bit gate) in long mode: #GP(gate)`
    TRY .r2
.f2: call far dword [rel g32_ptr]
.r2:
    EXPECT 13, 0x70, .f2, NO_CR2, `CALL 0073 (upper half not type 0) in long mode: #GP(gate)`
    jmp far dword [rel compat_ptr]

g64_ptr:    dd 0
            dw G64
g16_ptr:    dd 0
            dw G16
g32_ptr:    dd 0
            dw G32
compat_ptr: dd compat32
            dw U_CODE32

    bits 32
compat32:
    mov ax, U_DATA
    mov ds, ax
    mov es, ax
    PUTS `CALL 00E3 (64-bit gate) from compatibility mode:`
    call G64:0
.ret:
    mov eax, cs
    mov ebx, esp
    CHECK dword [R_STK], .ret, `pushed RIP`
    CHECK dword [R_STK + 8], U_CODE32, `pushed CS`
    CHECK dword [R_ESP], KSTACK_TOP - 32, `RSP0 minus four qwords`
    PUTS ` RSP=`
    PUTHEX [R_ESP], 8
    PUTS `, back in CS=`
    PUTHEX eax, 4
    PUTS ` ESP=`
    PUTHEX ebx, 8
    PUTC `\n`
    CHECK eax, U_CODE32, `RETFQ back to compatibility mode`
    CHECK ebx, USTACK_TOP, `ESP after RETFQ`
    PASS `call_gates`

    bits 16
    align 8
extra_gdt:
    dq GATE(K_CODE32, LIN(target32), 0xEC, 2)          ; 0x70
    dq GATE(C16, R(target16), 0xE4, 3)                 ; 0x78
    dq 0x00009B0F0000FFFF                              ; 0x80 code16, base F0000
    dq GATE(K_CODE32, LIN(target32), 0x8C, 0)          ; 0x88 DPL 0
    dq GATE(K_CODE32, LIN(target32), 0x6C, 0)          ; 0x90 not present
    dq GATE(K_DATA, LIN(target32), 0xEC, 0)            ; 0x98
    dq GATE(U_CODE32, LIN(jmp_target), 0xEC, 0)        ; 0xA0
    dq 0x00CFBB000000FFFF                              ; 0xA8 code32, DPL 1
    dq 0x00CFB3000000FFFF                              ; 0xB0 data, DPL 1
    dq GATE(C_R1, LIN(target_r1), 0xEC, 0)             ; 0xB8
    dq 0x00CF1B000000FFFF                              ; 0xC0 code32, not present
    dq GATE(C_NP, LIN(target32), 0xEC, 0)              ; 0xC8
    dq GATE(K_CODE32, LIN(target_same), 0x8C, 5)       ; 0xD0
    dq 0                                               ; 0xD8 null
    dq GATE(K_CODE64, LIN(target64), 0xEC, 0)          ; 0xE0 64-bit gate
    dq 0                                               ; 0xE8 its upper half
    dq 0                                               ; 0xF0 null
    dq GATE(K_CODE32, LIN(to_long), 0xEC, 0)           ; 0xF8
    dq 0x0000FB0F0000FFFF                              ; 0x100 code16, DPL 3, base F0000
extra_gdt_end:

    bits 32
extra_gdt_desc:
    dw EXTRA_END - 1
    dd SYS_GDT

R1STACK_TOP equ 0x8400

ROM_END
