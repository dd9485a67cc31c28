; long_mode: real mode -> 32-bit protected mode -> 64-bit long mode (SDM vol.
; 3A 9.8.5: CR4.PAE, 4-level tables, EFER.LME, CR0.PG, far jump to a 64-bit
; code segment), then 64-bit arithmetic, flags, addressing and a higher-half
; mapping, each printed and checked against the value computed on the host.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

HIGH_HALF equ 0xFFFF800000000000   ; PML4[256] maps the same 1 GiB as PML4[0]

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `long_mode: real mode, entering 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    PUTS `protected mode: entering long mode\n`
    call build_long_tables
    mov dword [LM_PML4 + 256 * 8], LM_PDPT | 3
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    PUTS `long mode: CS=`
    mov eax, cs
    PUTHEX rax, 4
    mov ecx, 0xC0000080
    rdmsr
    shl rdx, 32
    or rax, rdx
    PUTS ` EFER=`
    PUTHEX rax, 8
    CHECK rax, 0x500, `EFER (LME, LMA)`
    PUTS ` CR0=`
    mov rax, cr0
    PUTHEX rax, 8
    CHECK rax, 0x80000011, `CR0`
    PUTS ` CR3=`
    mov rax, cr3
    PUTHEX rax, 8
    CHECK rax, LM_PML4, `CR3`
    PUTS ` CR4=`
    mov rax, cr4
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, 0x20, `CR4`

    ; --- 64-bit arithmetic ---------------------------------------------
    mov rax, 0x123456789ABCDEF0
    mov rbx, 0x0FEDCBA987654321
    add rax, rbx
    PUTS `add 123456789ABCDEF0 + 0FEDCBA987654321 = `
    PUTHEX rax, 16
    PUTC `\n`
    CHECK rax, 0x2222222222222211, `add`

    mov rax, -1
    mov rbx, -1
    mul rbx
    PUTS `mul FFFFFFFFFFFFFFFF * FFFFFFFFFFFFFFFF = `
    PUTHEX rdx, 16
    PUTC ':'
    PUTHEX rax, 16
    PUTC `\n`
    CHECK rdx, 0xFFFFFFFFFFFFFFFE, `mul high`
    CHECK rax, 1, `mul low`

    mov rdx, 5
    mov rax, 0x0123456789ABCDEF
    mov rbx, 0xFEDCBA98
    div rbx
    PUTS `div 0000000000000005:0123456789ABCDEF / FEDCBA98 = `
    PUTHEX rax, 16
    PUTS ` rem `
    PUTHEX rdx, 16
    PUTC `\n`
    CHECK rax, 0x506DB6DB9, `div quotient`
    CHECK rdx, 0x30AE3E17, `div remainder`

    mov rax, -1000000000000
    cqo
    mov rcx, 7
    idiv rcx
    PUTS `idiv -1000000000000 / 7 = `
    PUTHEX rax, 16
    PUTS ` rem `
    PUTHEX rdx, 16
    PUTC `\n`
    CHECK rax, 0xFFFFFFDEBD0CFDB7, `idiv quotient`
    CHECK rdx, -1, `idiv remainder`

    mov rbx, 0x0000000123456789
    imul rax, rbx, -3
    PUTS `imul 0000000123456789 * -3 = `
    PUTHEX rax, 16
    PUTC `\n`
    CHECK rax, 0xFFFFFFFC962FC965, `imul`

    mov rax, 0x0123456789ABCDEF
    mov rbx, 0xFEDCBA9876543210
    shld rax, rbx, 12
    PUTS `shld 12 = `
    PUTHEX rax, 16
    CHECK rax, 0x3456789ABCDEFFED, `shld`
    mov rax, 0xFEDCBA9876543210
    mov rbx, 0x0123456789ABCDEF
    shrd rax, rbx, 20
    PUTS `, shrd 20 = `
    PUTHEX rax, 16
    CHECK rax, 0xBCDEFFEDCBA98765, `shrd`
    mov rax, 0x8000000000000001
    rol rax, 4
    PUTS `, rol 4 = `
    PUTHEX rax, 16
    CHECK rax, 0x18, `rol`
    mov rax, -0x100000000000
    sar rax, 7
    PUTS `, sar 7 = `
    PUTHEX rax, 16
    PUTC `\n`
    CHECK rax, 0xFFFFFFE000000000, `sar`

    mov rax, 0x0102030405060708
    bswap rax
    PUTS `bswap = `
    PUTHEX rax, 16
    CHECK rax, 0x0807060504030201, `bswap`
    mov rax, 0x0000800000000000
    bsr rcx, rax
    PUTS `, bsr = `
    PUTHEX rcx, 2
    CHECK rcx, 47, `bsr`
    mov rax, 0x0010000000000100
    bsf rcx, rax
    PUTS `, bsf = `
    PUTHEX rcx, 2
    PUTC `\n`
    CHECK rcx, 8, `bsf`

    mov ecx, -5
    movsxd rax, ecx
    PUTS `movsxd -5 = `
    PUTHEX rax, 16
    CHECK rax, -5, `movsxd`
    mov rax, -1
    mov eax, 0x12345678         ; 32-bit writes zero the upper half
    PUTS `, mov eax after mov rax,-1 = `
    PUTHEX rax, 16
    PUTC `\n`
    CHECK rax, 0x12345678, `32-bit write zero-extends`

    ; 128-bit add with carry: FFFFFFFFFFFFFFFF:1 ... as (hi:lo) pairs
    mov rax, -1                 ; lo a
    mov rdx, 1                  ; hi a
    add rax, 1                  ; lo b
    adc rdx, 2                  ; hi b
    PUTS `128-bit add 0000000000000001:FFFFFFFFFFFFFFFF + 0000000000000002:0000000000000001 = `
    PUTHEX rdx, 16
    PUTC ':'
    PUTHEX rax, 16
    PUTC `\n`
    CHECK rdx, 4, `adc high`
    CHECK rax, 0, `add low`

    mov rax, 10
    mov rbx, 32
    xadd rax, rbx
    PUTS `xadd: `
    PUTHEX rax, 2
    PUTC ' '
    PUTHEX rbx, 2
    PUTC `\n`
    CHECK rax, 42, `xadd sum`
    CHECK rbx, 10, `xadd old value`

    ; --- R8-R15, addressing, stack -------------------------------------
    mov r8, 1 << 40
    mov r9, 3
    lea r10, [r8 + r9 * 8 + 0x10]
    mov r11, r10
    add r11, r9
    mov r12, r11
    mov r13, 0x5555555555555555
    mov r14, 0xAAAAAAAAAAAAAAAA
    xor r13, r14
    PUTS `lea [r8 + r9*8 + 10h] = `
    PUTHEX r10, 16
    PUTS `, r13 ^ r14 = `
    PUTHEX r13, 16
    PUTC `\n`
    CHECK r10, 0x10000000028, `lea`
    CHECK r12, 0x1000000002B, `r11/r12`
    CHECK r13, -1, `xor r13, r14`

    lea rax, [rel rip_target]
    mov rbx, rip_target
    CHECK rax, rbx, `RIP-relative lea`
    mov rax, 41
    push rax
    call add_one
    pop rbx
    PUTS `RIP-relative lea ok, call/ret with stack argument: `
    PUTDEC rax
    PUTC `\n`
    CHECK rax, 42, `call/ret`

    ; --- flags -----------------------------------------------------------
    mov rax, 0x7FFFFFFFFFFFFFFF
    add rax, 1
    pushfq
    pop rax
    and eax, 0x8D5              ; OF SF ZF AF PF CF
    PUTS `flags after 7FFFFFFFFFFFFFFF + 1: `
    PUTHEX rax, 3
    CHECK rax, 0x894, `flags of add`
    mov rax, 1
    sub rax, 2
    pushfq
    pop rax
    and eax, 0x8D5
    PUTS `, after 1 - 2: `
    PUTHEX rax, 3
    PUTC `\n`
    CHECK rax, 0x95, `flags of sub`

    ; --- higher half: HIGH_HALF + x maps physical x ---------------------
    mov rax, 0xFEEDFACECAFEF00D
    mov rbx, HIGH_HALF + 0x300000
    mov [rbx], rax
    mov rcx, [0x300000]
    PUTS `wrote FEEDFACECAFEF00D at FFFF800000300000, read 0000000000300000 -> `
    PUTHEX rcx, 16
    PUTC `\n`
    CHECK rcx, rax, `higher-half alias`

    PASS `long_mode`

add_one:                        ; returns [rsp+8] + 1 in RAX
    mov rax, [rsp + 8]
    inc rax
    ret
rip_target:
    ret

ROM_END
