; jit_hazards: 64-bit code that stresses what a translator can get wrong and
; an interpreter cannot (accel/interp/jit.cc): flags kept live across loads
; and stores, stack instructions on RSP itself, RIP-relative, FS/GS-based and
; 32-bit-address-size operands, high-byte registers, page-crossing and MMIO
; accesses, precise faults in the middle of straight-line code (#PF, #DE),
; locked read-modify-writes, and self-modifying code
; (a store into the next instruction, and into a page that became code after
; it was written). Every result is printed and checked against the value the
; SDM (vol. 1 3.4.3, vol. 2, vol. 3A 8.1.3) gives; the engines' transcripts
; must match each other. (A RET to a non-canonical address is #GP at the
; RET on both vendors' CPUs, but QEMU's TCG, which runs the KVM sandbox,
; faults at the target instead, so that case is left to unit tests.)
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "trap.inc"

DATA      equ 0x30000           ; scratch data page (and the next one)
CODE_RAM  equ 0x40000           ; code copied to RAM (self-modifying tests)
CODE_RAM2 equ 0x41000
UNMAPPED  equ 0x40000000        ; PDPT[1] is empty: not present
LAPIC     equ 0xFEE00000
LAPIC_PD  equ 0x23000

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call build_long_tables
    ; PDPT[3] -> a page directory whose entry 503 maps the LAPIC's 2 MiB
    ; (uncached, PCD|PWT).
    mov edi, LAPIC_PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [LM_PDPT + 3 * 8], LAPIC_PD | 3
    mov dword [LAPIC_PD + 503 * 8], (LAPIC & 0xFFE00000) | 0x9B
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    call install_traps64
    PUTS `jit_hazards: 64-bit mode\n`

    ; --- flags live across memory accesses -------------------------------
    mov qword [DATA], 41
    mov rax, 5
    cmp rax, 5                  ; ZF=1 ...
    mov rbx, [DATA]             ; ... survives a load
    mov [DATA + 8], rbx         ; ... and a store
    setz cl
    movzx ecx, cl
    stc
    mov rdx, [DATA]             ; CF survives a load into ADC
    adc rdx, 0
    PUTS `flags across memory: ZF `
    PUTHEX rcx, 1
    PUTS `, 41 + CF = `
    PUTDEC rdx
    PUTC `\n`
    CHECK rcx, 1, `ZF across load/store`
    CHECK rdx, 42, `adc after load`

    ; 192-bit add through memory: ADC chain with loads and stores between.
    mov rax, -1
    mov [DATA], rax
    mov [DATA + 8], rax
    mov qword [DATA + 16], 0
    mov rsi, DATA
    mov rax, 1
    add [rsi], rax
    mov rax, [rsi + 8]
    adc rax, 0
    mov [rsi + 8], rax
    adc qword [rsi + 16], 0
    PUTS `192-bit increment: `
    PUTHEX [rsi + 16], 16
    PUTC ':'
    PUTHEX [rsi + 8], 16
    PUTC ':'
    PUTHEX [rsi], 16
    PUTC `\n`
    CHECK qword [rsi + 16], 1, `carry into the third word`

    ; partial flag writers and count-0 shifts keep the other flags
    stc
    mov rax, 7
    inc rax                     ; CF kept
    setc bl
    mov cl, 0
    shl rax, cl                 ; count 0: flags kept
    setc bh
    movzx eax, bx
    PUTS `CF after INC and SHL by 0: `
    PUTHEX rax, 4
    PUTC `\n`
    CHECK rax, 0x0101, `CF kept`

    ; LAHF/SAHF through AH
    mov ah, 0xD5
    sahf
    mov ah, 0
    lahf
    movzx eax, ah
    PUTS `SAHF D5 -> LAHF `
    PUTHEX rax, 2
    PUTC `\n`
    CHECK rax, 0xD7, `lahf`

    ; --- 32-bit results zero-extend; CMOV with a false condition too -------
    mov rax, 0x1111111111111111
    mov rbx, 0x2222222222222222
    xor ecx, ecx                ; ZF=1
    cmovnz eax, ebx             ; not taken, still writes EAX
    add rbx, 0
    mov edx, ebx                ; 22222222
    PUTS `cmovnz eax (not taken): `
    PUTHEX rax, 16
    PUTS `, mov edx: `
    PUTHEX rdx, 16
    PUTC `\n`
    CHECK rax, 0x11111111, `cmov zero-extends`
    CHECK rdx, 0x22222222, `mov r32 zero-extends`

    ; --- stack instructions on RSP --------------------------------------
    mov rbx, rsp
    push rsp                    ; pushes the old RSP
    pop rax
    CHECK rax, rbx, `push rsp`
    lea rax, [rsp - 256]
    push rax
    pop rsp                     ; RSP = popped value
    mov rcx, rsp
    mov rsp, rbx
    add rbx, -256
    CHECK rcx, rbx, `pop rsp`
    push -2                     ; imm8 sign-extended to 64 bits
    pop rax
    CHECK rax, -2, `push imm8`
    mov rax, 0x123456789
    push rax
    call add_one_from_stack
    add rsp, 8
    PUTS `stack: push rsp, pop rsp, push imm, call/ret ok: `
    PUTHEX rax, 9
    PUTC `\n`
    CHECK rax, 0x12345678A, `call/ret with a stack argument`

    ; --- addressing ------------------------------------------------------
    mov rax, [rel rip_data]
    CHECK rax, 0x0123456789ABCDEF, `rip-relative load`
    lea rbx, [rel rip_data]
    CHECK rbx, rip_data, `rip-relative lea`
    mov qword [DATA + 0x100], 0x5151
    mov qword [DATA + 0x200], 0x6262
    mov ecx, 0xC0000100         ; FS_BASE
    mov eax, DATA
    xor edx, edx
    wrmsr
    mov ecx, 0xC0000101         ; GS_BASE
    mov eax, DATA + 0x100
    wrmsr
    mov rax, [fs:0x100]
    mov rbx, [gs:0x100]
    PUTS `fs:100 `
    PUTHEX rax, 4
    PUTS `, gs:100 `
    PUTHEX rbx, 4
    CHECK rax, 0x5151, `fs-based load`
    CHECK rbx, 0x6262, `gs-based load`
    mov rbx, 0xFFFFFFFF00000000 + DATA + 0x100
    mov eax, [ebx]              ; 32-bit address size drops the upper half
    PUTS `, [ebx] `
    PUTHEX rax, 4
    PUTC `\n`
    CHECK rax, 0x5151, `32-bit address size`

    ; high-byte registers with memory and REX-free forms
    mov qword [DATA], 0x7F
    mov rbx, DATA
    mov eax, 0x1200
    add ah, [rbx]               ; 12 + 7F = 91
    mov ch, ah
    xchg ch, cl
    movzx edx, cl
    PUTS `high bytes: AH `
    PUTHEX rax, 4
    PUTS `, CL `
    PUTHEX rdx, 2
    PUTC `\n`
    CHECK rax, 0x9100, `add ah, [rbx]`
    CHECK rdx, 0x91, `xchg ch, cl`

    ; --- page-crossing and MMIO accesses -------------------------------
    mov rax, 0x8877665544332211
    mov [DATA + 0xFFC], rax     ; straddles DATA+0x1000
    mov ebx, [DATA + 0x1000]
    mov rcx, [DATA + 0xFFC]
    PUTS `page-crossing qword: `
    PUTHEX rcx, 16
    PUTC `\n`
    CHECK rbx, 0x88776655, `upper half in the next page`
    CHECK rcx, rax, `page-crossing load`
    mov rbx, LAPIC
    mov eax, [rbx + 0x30]       ; version register through MMIO
    and eax, 0xFF
    PUTS `LAPIC version read in 64-bit code: `
    PUTHEX rax, 2
    PUTC `\n`

    ; --- locked read-modify-writes -------------------------------------
    mov qword [DATA], 100
    mov rax, 100
    mov rbx, 200
    lock cmpxchg [DATA], rbx    ; equal: stores 200, ZF=1
    setz cl
    mov rdx, 5
    lock xadd [DATA], rdx       ; rdx = 200, [DATA] = 205
    PUTS `cmpxchg ZF `
    movzx ecx, cl
    PUTHEX rcx, 1
    PUTS `, xadd old `
    PUTDEC rdx
    PUTS `, new `
    PUTDEC [DATA]
    PUTC `\n`
    CHECK rdx, 200, `xadd`
    CHECK qword [DATA], 205, `xadd sum`

    ; --- precise faults in straight-line code ---------------------------
    mov rax, 0xAA
    mov rdx, 0xDD
    TRY .after_pf
    mov rax, 1
    mov r8, 2
.pf_at:
    mov rcx, [UNMAPPED + 8]
    mov rdx, 3
.after_pf:
    mov [DATA + 0x800], rdx     ; EXPECT uses RBX, RCX, RDX and RSI
    EXPECT 14, 0, .pf_at, UNMAPPED + 8, `#PF mid-block`
    mov rdx, [DATA + 0x800]
    PUTS `registers at the fault: `
    PUTHEX rax, 1
    PUTHEX r8, 1
    PUTHEX rdx, 2
    PUTC `\n`
    CHECK rax, 1, `instruction before the fault completed`
    CHECK rdx, 0xDD, `instruction after the fault not run`

    TRY .after_de
    xor edx, edx
    mov eax, 10
    xor ecx, ecx
.de_at:
    div ecx
.after_de:
    EXPECT 0, 0, .de_at, NO_CR2, `DIV by zero`

    ; --- REP string instruction inside 64-bit code ----------------------
    mov rsi, rip_data
    mov rdi, DATA
    mov ecx, 8
    rep movsb
    mov rax, [DATA]
    CHECK rax, 0x0123456789ABCDEF, `rep movsb`

    ; --- self-modifying code -------------------------------------------
    ; 1. A store into the immediate of the next instruction is seen by it.
    mov rsi, smc_next
    mov rdi, CODE_RAM
    mov ecx, smc_next_end - smc_next
    rep movsb
    call CODE_RAM
    PUTS `store into the next instruction: `
    PUTHEX rax, 2
    PUTC `\n`
    CHECK rax, 7, `self-modifying next instruction`
    ; 2. A page written as data, then run, then written again.
    mov dword [CODE_RAM2], 0x000005B8  ; mov eax, 5
    mov word [CODE_RAM2 + 4], 0xC300   ; (imm high byte) ret
    call CODE_RAM2
    mov rbx, rax
    mov byte [CODE_RAM2 + 1], 6
    call CODE_RAM2
    PUTS `rewritten code page: `
    PUTHEX rbx, 1
    PUTS ` then `
    PUTHEX rax, 1
    PUTC `\n`
    CHECK rbx, 5, `code page first run`
    CHECK rax, 6, `code page after rewrite`

    ; --- a long loop (blocks chained, checked against a closed form) -----
    xor eax, eax
    xor edx, edx
    mov ecx, 1000000
.loop:
    add rax, rcx
    adc rdx, 0
    dec ecx
    jnz .loop
    PUTS `sum 1..1000000 = `
    PUTDEC rax
    PUTC `\n`
    CHECK rax, 500000500000, `loop sum`

    PASS `jit_hazards`

add_one_from_stack:             ; RAX = [rsp + 8] + 1
    mov rax, [rsp + 8]
    inc rax
    ret

smc_next:                       ; copied to CODE_RAM: returns 7
    mov byte [rel .imm + 1], 7
.imm:
    mov eax, 3
    ret
smc_next_end:

    align 8
rip_data:
    dq 0x0123456789ABCDEF

ROM_END
