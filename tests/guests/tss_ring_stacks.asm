; tss_ring_stacks: interrupts and exceptions that change privilege (SDM vol.
; 3A 6.12.1, 6.14, 7.7): from ring 3 through interrupt and trap gates (IF
; cleared or kept) onto the TSS ESP0/SS0 stack in 32-bit protected mode and
; the RSP0 stack (SS null) in 64-bit mode, an IST stack, error codes of
; #GP (gate DPL below CPL: vector * 8 + 2; bad selector) and #PF (user read
; of a supervisor page), IRET/IRETQ back to ring 3, IRETQ to compatibility
; mode, and a same-ring IRETQ with the 16-byte stack alignment of 64-bit
; delivery. The 64-bit IDT's error codes are in idt64_errors (the nested
; KVM sandbox gets them wrong).
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"
%include "pic.inc"

; PRINT_RECORDED sp_name: what the handler recorded (vector, error code, the
; stack it ran on, IF, and the interrupted CS and SS:sp), in either width.
%macro PRINT_RECORDED 1
    PUTS ` vector `
    PUTHEX [R_VEC], 2
    PUTS ` error `
    PUTHEX [R_ERR], 4
    PUTS `, handler on `
    PUTHEX [R_KSS], 4
    PUTC ':'
    PUTHEX [R_KSP], 8
    PUTS ` IF=`
    PUTDEC [R_KIF]
    PUTS `, frame CS=`
    PUTHEX [R_CS], 4
    PUTS ` SS:`, %1, `=`
    PUTHEX [R_SS], 4
    PUTC ':'
    PUTHEX [R_SP], 8
    PUTC `\n`
%endmacro

R_VEC    equ REC + 0x00
R_ERR    equ REC + 0x08
R_IP     equ REC + 0x10     ; frame: RIP/EIP, CS, RFLAGS, RSP, SS
R_CS     equ REC + 0x18
R_FLAGS  equ REC + 0x20
R_SP     equ REC + 0x28
R_SS     equ REC + 0x30
R_KSP    equ REC + 0x38     ; where the frame's RIP/EIP lies: the delivery's stack
R_KSS    equ REC + 0x40     ; SS in the handler
R_KIF    equ REC + 0x48     ; RFLAGS.IF in the handler
R_RESUME equ REC + 0x50     ; a fault returns here (0: return to the frame's RIP)
R_CR2    equ REC + 0x58
USER_PAGE_SUPER equ 0x600000   ; 64-bit: PD[3] is supervisor-only
USER_FLAGS equ 0x3202          ; IOPL 3 (ring 3 prints), IF

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `tss_ring_stacks: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

; ===========================================================================
    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    PIC_INIT
    call install_sys_gdt
    mov dword [SYS_TSS + 4], KSTACK_TOP
    mov dword [SYS_TSS + 8], K_DATA
    LOAD_TR
    mov eax, 0x28
    mov edx, h32_28
    mov bl, 0xEE                ; interrupt gate, DPL 3
    call idt32_gate
    mov eax, 0x29
    mov edx, h32_29
    mov bl, 0xEF                ; trap gate, DPL 3
    call idt32_gate
    mov eax, 0x2A
    mov edx, h32_28
    mov bl, 0x8E                ; DPL 0: INT 2Ah from ring 3 is #GP
    call idt32_gate
    mov eax, 0x0D
    mov edx, h32_gp
    mov bl, 0x8E
    call idt32_gate
    mov eax, 0x2B
    mov edx, to_long
    mov bl, 0xEE
    call idt32_gate
    mov dword [R_RESUME], 0
    PUTS `TSS: ESP0=`
    PUTHEX KSTACK_TOP, 8
    PUTS ` SS0=0010; IRET to ring 3\n`
    push U_DATA
    push USTACK_TOP
    push USER_FLAGS
    push U_CODE32
    push user32
    iretd

; Handlers: a fake error code where the CPU pushes none, then the vector.
h32_28:
    push 0
    push 0x28
    jmp rec32
h32_29:
    push 0
    push 0x29
    jmp rec32
h32_gp:
    push 0x0D
rec32:                          ; [esp] vector, error, EIP, CS, EFLAGS, ESP, SS
    push eax
    mov eax, [esp + 4]
    mov [R_VEC], eax
    mov eax, [esp + 8]
    mov [R_ERR], eax
    mov eax, [esp + 12]
    mov [R_IP], eax
    mov eax, [esp + 16]
    mov [R_CS], eax
    mov eax, [esp + 20]
    mov [R_FLAGS], eax
    mov eax, [esp + 24]
    mov [R_SP], eax
    mov eax, [esp + 28]
    mov [R_SS], eax
    lea eax, [esp + 12]
    mov [R_KSP], eax
    mov eax, ss
    mov [R_KSS], eax
    pushfd
    pop eax
    shr eax, 9
    and eax, 1
    mov [R_KIF], eax
    PRINT_RECORDED `ESP`
    mov eax, [R_RESUME]
    test eax, eax
    jz .ret
    mov [esp + 12], eax
    mov dword [R_RESUME], 0
.ret:
    pop eax
    add esp, 8
    iretd

; Ring 3 (IOPL 3), 32-bit.
user32:
    mov ax, U_DATA              ; IRET to ring 3 nulled the ring-0 DS and ES
    mov ds, ax
    mov es, ax
    PUTS `INT 28h, interrupt gate, from ring 3:`
    int 0x28
    CHECK dword [R_KSP], KSTACK_TOP - 20, `32-bit: the frame is on the ESP0 stack`
    CHECK dword [R_KSS], K_DATA, `32-bit: SS from SS0`
    CHECK dword [R_KIF], 0, `interrupt gate clears IF`
    CHECK dword [R_CS], U_CODE32, `frame CS`
    CHECK dword [R_SS], U_DATA, `frame SS`
    CHECK dword [R_SP], USTACK_TOP, `frame ESP`
    PUTS `INT 29h, trap gate, from ring 3:`
    int 0x29
.after29:
    CHECK dword [R_KIF], 1, `trap gate keeps IF`
    CHECK dword [R_IP], .after29, `frame EIP of INT n: the next instruction`
    PUTS `INT 2Ah, gate DPL 0, from ring 3 (#GP(vector * 8 + 2)):`
    mov dword [R_RESUME], .r1
.f1:
    int 0x2A
.r1:
    CHECK dword [R_VEC], 0x0D, `INT through a DPL 0 gate: #GP`
    CHECK dword [R_ERR], 0x2A * 8 + 2, `#GP error code: IDT index, IDT bit`
    CHECK dword [R_IP], .f1, `#GP frame EIP: the INT`
    PUTS `MOV DS, 1230h in ring 3 (#GP(selector)):`
    mov dword [R_RESUME], .r2
    mov ax, 0x1230
.f2:
    mov ds, ax
.r2:
    CHECK dword [R_VEC], 0x0D, `bad selector: #GP`
    CHECK dword [R_ERR], 0x1230, `#GP error code: the selector`
    CHECK dword [R_IP], .f2, `#GP frame EIP: the MOV`
    CHECK dword [R_KSP], KSTACK_TOP - 20, `error code below the frame on the ESP0 stack`
    int 0x2B
    FAIL 0x40, `INT 2Bh returned`

; Ring 0 again: on to long mode.
to_long:
    mov ax, K_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK_TOP
    PUTS `tss_ring_stacks: 64-bit long mode\n`
    call build_long_tables
    call user_long_tables
    and dword [LM_PD + 3 * 8], ~4   ; 6-8 MiB: supervisor only
    and byte [SYS_GDT + SEL_TSS + 5], ~2   ; not busy, so LTR can load it again
    ENTER_LONG lm_entry

; ===========================================================================
    bits 64
lm_entry:
    LONG_SYS_INIT
    mov eax, 0x28
    mov rdx, h64_28
    mov bx, 0x00EE              ; interrupt gate, DPL 3
    call idt64_gate
    mov eax, 0x29
    mov rdx, h64_29
    mov bx, 0x00EF              ; trap gate, DPL 3
    call idt64_gate
    mov eax, 0x2A
    mov rdx, h64_2a
    mov bx, 0x01EE              ; interrupt gate, DPL 3, IST 1
    call idt64_gate
    mov eax, 0x0D
    mov rdx, h64_gp
    mov bx, 0x008E
    call idt64_gate
    mov eax, 0x0E
    mov rdx, h64_pf
    mov bx, 0x008E
    call idt64_gate
    mov eax, 0x2B
    mov rdx, to_compat
    mov bx, 0x00EE
    call idt64_gate
    mov eax, 0x2D
    mov rdx, same_ring
    mov bx, 0x00EE
    call idt64_gate
    mov qword [R_RESUME], 0
    PUTS `TSS: RSP0=`
    PUTHEX KSTACK_TOP, 8
    PUTS ` IST1=`
    PUTHEX IST1_TOP, 8
    PUTS `; IRETQ to 64-bit ring 3\n`
    push U_DATA
    push USTACK_TOP
    push USER_FLAGS
    push U_CODE64
    push user64
    iretq

h64_28:
    push 0
    push 0x28
    jmp rec64
h64_29:
    push 0
    push 0x29
    jmp rec64
h64_2a:
    push 0
    push 0x2A
    jmp rec64
h64_gp:
    push 0x0D
    jmp rec64
h64_pf:
    push 0x0E
rec64:                          ; [rsp] vector, error, RIP, CS, RFLAGS, RSP, SS
    push rax
    mov rax, cr2
    mov [R_CR2], rax
%assign i 0
%rep 7
    mov rax, [rsp + 8 + i * 8]
    mov [R_VEC + i * 8], rax
%assign i i + 1
%endrep
    lea rax, [rsp + 24]
    mov [R_KSP], rax
    mov eax, ss
    mov [R_KSS], rax
    pushfq
    pop rax
    shr eax, 9
    and eax, 1
    mov [R_KIF], rax
    PRINT_RECORDED `RSP`
    mov rax, [R_RESUME]
    test rax, rax
    jz .ret
    mov [rsp + 24], rax
    mov qword [R_RESUME], 0
.ret:
    pop rax
    add rsp, 16
    iretq

; Ring 3 (IOPL 3), 64-bit.
user64:
    PUTS `INT 28h, interrupt gate, from ring 3:`
    int 0x28
    CHECK qword [R_KSP], KSTACK_TOP - 40, `64-bit: the frame is on the RSP0 stack`
    CHECK qword [R_KSS], 0, `64-bit: SS null after a ring change`
    CHECK qword [R_KIF], 0, `interrupt gate clears IF`
    CHECK qword [R_CS], U_CODE64, `frame CS`
    CHECK qword [R_SS], U_DATA, `frame SS`
    CHECK qword [R_SP], USTACK_TOP, `frame RSP`
    PUTS `INT 29h, trap gate, from ring 3:`
    int 0x29
    CHECK qword [R_KIF], 1, `trap gate keeps IF`
    PUTS `INT 2Ah, IST 1, from ring 3:`
    int 0x2A
    CHECK qword [R_KSP], IST1_TOP - 40, `the frame is on the IST1 stack`
    PUTS `user read of a supervisor page (#PF):`
    mov qword [R_RESUME], .r2
.f2:
    mov rax, [USER_PAGE_SUPER]
.r2:
    CHECK qword [R_VEC], 0x0E, `#PF`
    CHECK qword [R_ERR], 5, `#PF error code: present, user, read`
    CHECK qword [R_CR2], USER_PAGE_SUPER, `CR2`
    mov rax, .f2
    CHECK [R_IP], rax, `#PF frame RIP: the MOV`
    CHECK qword [R_KSP], KSTACK_TOP - 40, `error code below the frame on the RSP0 stack`
    PUTS `MOV DS, 1230h in ring 3 (#GP(selector)):`
    mov qword [R_RESUME], .r3
    mov ax, 0x1230
    mov ds, ax
.r3:
    CHECK qword [R_ERR], 0x1230, `#GP error code: the selector`
    PUTS `INT 2Bh: the handler IRETQs to compatibility mode\n`
    int 0x2B
    FAIL 0x41, `INT 2Bh returned to 64-bit mode`

to_compat:                      ; rewrites the frame's CS:RIP
    mov qword [rsp + 8], U_CODE32
    mov qword [rsp], compat32
    iretq

    bits 32
compat32:
    mov ax, U_DATA              ; null DS/ES fault outside 64-bit mode
    mov ds, ax
    mov es, ax
    mov eax, cs
    PUTS `compatibility mode ring 3: CS=`
    PUTHEX eax, 4
    PUTC `\n`
    CHECK eax, U_CODE32, `CS after IRETQ to compatibility mode`
    PUTS `INT 28h from compatibility mode:`
    int 0x28
.after:
    CHECK dword [R_CS], U_CODE32, `frame CS`
    CHECK dword [R_IP], .after, `frame RIP`
    CHECK dword [R_KSP], KSTACK_TOP - 40, `the frame is on the RSP0 stack`
    mov eax, cs
    CHECK eax, U_CODE32, `IRETQ back to compatibility mode`
    int 0x2D
    FAIL 0x42, `INT 2Dh returned`

    bits 64
same_ring:                      ; ring 0: a same-ring INT and IRETQ
    mov ax, K_DATA64
    mov ss, ax
    mov rsp, KSTACK_TOP - 0x108 ; 8 mod 16: delivery aligns it down
    mov rbx, rsp
    PUTS `ring 0, RSP=`
    PUTHEX rbx, 8
    PUTS `, INT 29h (same ring):`
    int 0x29
    mov rbx, rsp
    mov eax, ss
    CHECK qword [R_CS], K_CODE64, `frame CS`
    CHECK qword [R_SS], K_DATA64, `frame SS: pushed in 64-bit mode without a ring change`
    CHECK qword [R_SP], KSTACK_TOP - 0x108, `frame RSP`
    CHECK qword [R_KSP], KSTACK_TOP - 0x110 - 40, `frame below RSP aligned to 16`
    PUTS `after IRETQ: SS:RSP=`
    PUTHEX rax, 4
    PUTC ':'
    PUTHEX rbx, 8
    PUTC `\n`
    CHECK rbx, KSTACK_TOP - 0x108, `RSP restored by IRETQ`
    CHECK rax, K_DATA64, `SS restored by IRETQ`
    PASS `tss_ring_stacks`

ROM_END
